"""``python -m cipmodel``."""

from cipmodel.cli.main import main

if __name__ == "__main__":
    main()
