import sys

from lgm.cli import main

sys.exit(main())
