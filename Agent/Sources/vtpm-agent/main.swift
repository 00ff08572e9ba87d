print("vtpm-agent")
