"""``python -m cipmodel``."""

from cipmodel.cli import main

if __name__ == "__main__":
    main()
