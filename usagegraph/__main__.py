from usagegraph.cli import main

main()
