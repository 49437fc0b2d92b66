from headstart.cli.app import main

main()
