"""Train one configuration, or sweep many with -m. See README.md and conf/train.yaml."""

from imbalance_lab.train import cli

if __name__ == "__main__":
    cli()
