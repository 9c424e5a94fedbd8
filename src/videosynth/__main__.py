from videosynth.cli import main

main()
