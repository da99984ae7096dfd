"""`python -m aftersales`: the same as the installed `aftersales` command."""
import sys

from .cli import main

sys.exit(main())
