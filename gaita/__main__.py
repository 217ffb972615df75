from gaita.cli import main

main()
