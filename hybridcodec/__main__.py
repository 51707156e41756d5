import sys

from hybridcodec.tools.cli import main

sys.exit(main())
