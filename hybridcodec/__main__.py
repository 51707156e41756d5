import sys

from hybridcodec.cli import main

sys.exit(main())
