#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Run as `swtpm` (a symlink named swtpm, as tools that start swtpm themselves expect), the
// executable takes swtpm's command line; otherwise it is `vtpm` with subcommands.
let invokedAs = CommandLine.arguments.first?.split(separator: "/").last.map(String.init) ?? "vtpm"
if invokedAs == "swtpm" {
    exit(SwtpmMain.run(Array(CommandLine.arguments.dropFirst())))
}
// Run as `swtpm_setup` (libvirt's provisioning call), it manufactures a state directory.
if invokedAs == "swtpm_setup" {
    exit(SwtpmSetupMain.run(Array(CommandLine.arguments.dropFirst())))
}
VTPMCommand.main()
