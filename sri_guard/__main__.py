"""`python -m sri_guard` is the `sri-guard` command."""

from sri_guard._cli import main

if __name__ == "__main__":
    main()
