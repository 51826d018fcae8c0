from chatbot.interfaces.cli import main

raise SystemExit(main())
