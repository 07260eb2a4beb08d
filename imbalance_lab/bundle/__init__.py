"""A trained model as a self-contained folder (``<run>/model/``) that loads without running any
code from it, and what scores new data with it. Imports stay light: numpy, pandas, torch (for
the networks) and scikit-learn/skops (for the references), never Lightning or Hydra."""
