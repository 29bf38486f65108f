from scimsaga.cli import main

raise SystemExit(main())
