import Foundation
import TPMEngine
import TPMWire
import VTPMHost

/// The process behind `swtpm_setup ...` (a symlink named swtpm_setup, as libvirt calls it):
/// manufactures the TPM state in a directory the way swtpm_setup 0.7 does for a TPM 2 —
/// PCR banks, an RSA 2048 and an ECC P-384 EK at the standard persistent handles, their
/// certificates and a platform certificate from the host's local CA in the standard NV
/// indices, locked — so that `swtpm socket` (vtpm under that name) then serves it.
enum SwtpmSetupMain {
    static let version = "0.7.1"

    struct Options {
        var tpm2 = false
        var stateDirectory: String?
        var createEK = false
        var createEKCert = false
        var createPlatformCert = false
        var lockNV = false
        var overwrite = false
        var notOverwrite = false
        var pcrBanks: [String]? = ["sha256"]
        var logFile: String?
        var writeEKCertFiles: String?
        var display = false
        /// State encryption (`--keyfile[-fd]`, `--pwdfile[-fd]`, `--cipher`), as `swtpm socket
        /// --key` takes it: libvirt's encrypted vTPM passes the secret with `--pwdfile-fd`.
        var key: SwtpmConfiguration.KeyFile?
        var cipherBits: Int?
    }

    static func run(_ arguments: [String]) -> Int32 {
        var o = Options()
        var args = arguments[...]
        func fail(_ message: String) -> Int32 {
            FileHandle.standardError.write(Data("swtpm_setup: \(message)\n".utf8))
            return 1
        }
        while let arg = args.popFirst() {
            var name = arg
            var inline: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            func value() -> String? { inline ?? args.popFirst() }
            switch name {
            case "--tpm2": o.tpm2 = true
            case "--tpm-state", "--tpmstate":
                guard var v = value() else { return fail("\(name) needs a directory") }
                if v.hasPrefix("dir://") { v.removeFirst(6) }
                if v.hasPrefix("file://") { return fail("the file:// backend is not supported; use a directory") }
                o.stateDirectory = v
            case "--tpm", "--swtpm_ioctl", "--vmid", "--config", "--tcsd-system-ps-file":
                // vtpm is its own TPM; the configuration file names swtpm-localca, whose role
                // the host's local CA takes ($VTPM_CA_DIR, docs/host.md); the VM id is not
                // part of our certificates.
                guard value() != nil else { return fail("\(name) needs a value") }
            case "--createek": o.createEK = true
            case "--decryption": break  // the default EK is a decryption key
            case "--ecc": break  // selects the SPK type, and no SPK is created without --create-spk
            case "--create-ek-cert": o.createEKCert = true
            case "--create-platform-cert": o.createPlatformCert = true
            case "--lock-nvram": o.lockNV = true
            case "--overwrite": o.overwrite = true
            case "--not-overwrite": o.notOverwrite = true
            case "--display": o.display = true
            case "--pcr-banks":
                guard let v = value() else { return fail("--pcr-banks needs a list") }
                o.pcrBanks = v == "-" ? nil : v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            case "--rsa-keysize":
                guard let v = value() else { return fail("--rsa-keysize needs a value") }
                guard v == "2048" else { return fail("RSA key size \(v) is not supported (2048)") }
            case "--logfile":
                guard let v = value() else { return fail("--logfile needs a file") }
                o.logFile = v
            case "--write-ek-cert-files":
                guard let v = value() else { return fail("--write-ek-cert-files needs a directory") }
                o.writeEKCertFiles = v
            case "--keyfile", "--pwdfile":
                guard let v = value() else { return fail("\(name) needs a file") }
                o.key = .init(source: name == "--keyfile" ? .file(v) : .passphraseFile(v))
            case "--keyfile-fd", "--pwdfile-fd":
                guard let v = value(), let fd = Int32(v), fd >= 0 else { return fail("\(name) needs a file descriptor number") }
                o.key = .init(source: name == "--keyfile-fd" ? .fd(fd) : .passphraseFD(fd))
            case "--cipher":
                switch value() {
                case "aes-128-cbc", "aes-cbc": o.cipherBits = 128
                case "aes-256-cbc": o.cipherBits = 256
                case let c: return fail("unsupported cipher '\(c ?? "")' (aes-128-cbc, aes-256-cbc)")
                }
            case "--print-capabilities":
                print(
                    #"{ "type": "swtpm_setup", "features": [ "tpm-2.0", "cmdarg-keyfile-fd", "cmdarg-pwdfile-fd", "#
                        + #""cmdarg-write-ek-cert-files", "tpm2-rsa-keysize-2048" ], "version": "\#(version)" }"#
                )
                return 0
            case "--version":
                print("TPM emulator setup tool version \(version) (vtpm)")
                return 0
            case "--help", "-h":
                print(usage)
                return 0
            case "--allow-signing", "--take-ownership", "--create-spk", "--runas", "--reconfigure", "--create-config-files",
                "--ownerpass", "--srkpass", "--owner-well-known", "--srk-well-known":
                return fail("\(name) is not supported by vtpm's swtpm_setup (see docs/host.md)")
            default:
                return fail("unrecognized option '\(arg)' (see 'swtpm_setup --help')")
            }
        }
        guard o.tpm2 else { return fail("vtpm sets up TPM 2.0 only: --tpm2 is required") }
        guard let dir = o.stateDirectory else { return fail("--tpm-state is required") }
        if o.createPlatformCert { o.createEKCert = true }
        if o.createEKCert { o.createEK = true }

        let log: HostLog
        if let path = o.logFile {
            do { log = try HostLog.file(path, level: 2, prefix: "", truncate: false) } catch { return fail("\(error)") }
        } else {
            log = HostLog(fd: 2, level: 2, prefix: "")
        }
        var st = stat()
        guard stat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            return fail("TPM state directory \(dir) does not exist")
        }
        let store: StateStore
        do { store = try StateStore(directory: dir, fileMode: 0o600) } catch { return fail("\(error)") }
        defer { store.release() }
        if var key = o.key {
            // The key swtpm_setup hands to swtpm as `--key ...,mode=CIPHER` (same KDF).
            key.bits = o.cipherBits
            do { store.cipher = try key.load() } catch { return fail("\(error)") }
        }
        if store.size(.permanent) > 0 {
            if o.notOverwrite {
                log.info("Not overwriting existing state file.")
                return 0
            }
            guard o.overwrite else { return fail("TPM state already exists in \(dir); use --overwrite or --not-overwrite") }
            do {
                try store.delete(.permanent)
                try store.delete(.volatile)
            } catch { return fail("\(error)") }
        }
        log.info("Starting vTPM manufacturing as \(getuid()):\(getgid()) @ \(Date())")
        let banks: [TPMAlgID]
        if let names = o.pcrBanks {
            var algs: [TPMAlgID] = []
            for n in names {
                guard let a = InstanceManager.bankNames[n] else { return fail("unknown PCR bank '\(n)' (sha1, sha256, sha384, sha512)") }
                algs.append(a)
            }
            banks = algs
        } else {
            banks = [.sha1, .sha256, .sha384, .sha512]
        }
        let instance = Instance(store: store, log: log)
        do {
            try instance.sync { core in
                try Provisioning.manufacture(core, banks: banks, flush: !o.createEK)
                log.info(
                    "Successfully activated PCR banks \(o.pcrBanks?.joined(separator: ",") ?? "(all)") among sha1,sha256,sha384,sha512.")
                guard o.createEK else { return }
                let ca = o.createEKCert ? try LocalCA(directory: LocalCA.defaultDirectory()) : nil
                core.batchingProvisioning = true
                try core.powerOn(resumeVolatile: false)
                defer { core.powerOff() }
                guard core.startup(.clear) == 0 else { throw ManagementError("TPM2_Startup failed") }
                var options = EKProvisioning.Options()
                options.rsa = true
                options.ecc = true
                options.ekCertificates = o.createEKCert
                options.platformCertificate = o.createPlatformCert
                options.lockNV = o.lockNV
                for line in try EKProvisioning.provision(core, ca: ca, options: options) { log.info("Successfully created \(line).") }
                if let out = o.writeEKCertFiles {
                    for (index, file) in [
                        (EKProvisioning.rsaEKCertIndex, "ek-rsa2048.crt"), (EKProvisioning.eccEKCertIndex, "ek-secp384r1.crt"),
                    ] {
                        let der = try EKProvisioning.readNV(core, index: index)
                        try Data(der).write(to: URL(fileURLWithPath: out + "/" + file))
                    }
                }
                try Provisioning.check(Provisioning.rc(core.execute(Provisioning.shutdownClear)), "TPM2_Shutdown")
                try core.flush()
            }
        } catch {
            return fail("\(error)")
        }
        log.info("Successfully authored TPM state.")
        log.info("Ending vTPM manufacturing @ \(Date())")
        return 0
    }

    static let usage = """
        vtpm's swtpm_setup: manufactures a TPM 2.0 state directory for 'swtpm socket' (vtpm).

        Usage: swtpm_setup --tpm2 --tpm-state DIR [options]

          --createek              create an RSA 2048 and an ECC P-384 EK (persistent 0x81010001, 0x81010016)
          --create-ek-cert        also their certificates (NV 0x01c00002, 0x01c00016), signed by the local CA
          --create-platform-cert  also a platform certificate (NV 0x01c08000)
          --lock-nvram            write-lock the certificate indices
          --pcr-banks LIST        PCR banks to allocate (default sha256; '-' for all)
          --overwrite             replace an existing state; --not-overwrite: leave it and succeed
          --write-ek-cert-files D write the EK certificates (DER) into directory D
          --logfile FILE          log there instead of standard error
          --keyfile[-fd] F|N      encrypt the state with the key in file F or on descriptor N (hex)
          --pwdfile[-fd] F|N      ... with a key derived from the passphrase (as swtpm --key pwdfile=)
          --cipher C              aes-128-cbc (default) or aes-256-cbc: the key's size
          --print-capabilities, --version, --help
        Accepted and ignored: --tpm, --swtpm_ioctl, --vmid, --config, --decryption, --ecc.
        The local CA lives in $VTPM_CA_DIR (default /var/lib/vtpm/ca for root); 'vtpm ca show' prints its root.
        """
}
