import sys

from .study.cli.main import main

sys.exit(main())
