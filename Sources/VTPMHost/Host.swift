enum VTPMHostPlaceholder {}
