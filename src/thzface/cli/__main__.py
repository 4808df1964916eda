"""``python -m thzface.cli <verb>``: the same as the ``thzface`` console script."""

import sys

from thzface.cli import main

sys.exit(main())
