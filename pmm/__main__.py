from pmm.cli import main

main()
