import sys

from floorstream.cli import main

sys.exit(main())
