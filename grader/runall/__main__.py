"""``python -m runall`` (with grader/ on the path): what grader/run_all runs."""
import sys

from .main import main

sys.exit(main())
