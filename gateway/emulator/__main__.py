"""`python -m gateway.emulator ...` is `gateway emulate ...`."""

from gateway.emulator.cli import main

raise SystemExit(main())
