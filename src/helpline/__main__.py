import sys

from helpline.cli import main

sys.exit(main())
