from crossway.cli import main

main()
