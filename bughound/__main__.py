from bughound.cli import main

main()
