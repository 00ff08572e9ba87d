print("vtpm")
