from badge.cli import main

main()
