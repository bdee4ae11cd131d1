"""``python -m beacon``: the same entry point as the ``beacon`` console script."""

from beacon.cli import main

if __name__ == "__main__":
    main()
