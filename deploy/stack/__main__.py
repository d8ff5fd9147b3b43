from deploy.stack.template import main

raise SystemExit(main())
