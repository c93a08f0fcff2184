import GaugeCLI

GaugeCommand.main()
