"""Hyperparameter search with Optuna: search spaces from Hydra sweep overrides (``space``), the
study's storage and results (``study``), pruning of hopeless trials (``pruning``). The sweeper
that drives a search is ``hydra_plugins.imbalance_lab_optuna`` (``hydra/sweeper=optuna_study``).
"""
