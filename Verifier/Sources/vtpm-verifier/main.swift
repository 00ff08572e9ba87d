VerifierCommand.main()
