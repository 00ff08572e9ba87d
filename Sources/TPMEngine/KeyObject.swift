import TPMCrypto
import TPMWire

/// A loaded key or data object (Part 1, 23-27): its public area, its sensitive area (absent for
/// a public key loaded with TPM2_LoadExternal), its Name and Qualified Name, the hierarchy it
/// belongs to, and the key the two areas describe, built once when the object is loaded.
struct KeyObject: Sendable {
    struct Flags: OptionSet, Sendable, Hashable {
        var rawValue: UInt8
        /// Created by TPM2_CreatePrimary (its parent is a hierarchy).
        static let primary = Flags(rawValue: 1 << 0)
        /// Loaded with TPM2_LoadExternal: not created by this TPM, so never a parent, and its
        /// Qualified Name is its Name (as in the reference's ObjectSetLoadedAttributes).
        static let external = Flags(rawValue: 1 << 1)
        /// stClear is set in the object or in one of its ancestors: its context may not be
        /// loaded after a TPM Restart (Part 1, 30.4; Part 2, 8.3.3.2).
        static let stClear = Flags(rawValue: 1 << 2)

        static let all: Flags = [.primary, .external, .stClear]
    }

    var publicArea: TPMTPublic
    /// nil: only the public area is loaded.
    var sensitive: TPMTSensitive?
    var name: TPM2BName
    var qualifiedName: TPM2BName
    /// TPM_RH_OWNER, TPM_RH_ENDORSEMENT, TPM_RH_PLATFORM or TPM_RH_NULL (temporary objects).
    var hierarchy: TPMHandle
    var flags: Flags
    let material: KeyMaterial

    var attributes: TPMAObject { publicArea.objectAttributes }
    var type: TPMAlgID { publicArea.type }
    var nameAlg: TPMAlgID { publicArea.nameAlg }
    var isPublicOnly: Bool { sensitive == nil }

    /// The object's authValue (Empty Auth for a public-only object).
    var authValue: [UInt8] { sensitive?.authValue.buffer ?? [] }

    /// A storage parent (Part 1, 25.1; the reference's isParent): a restricted decryption key
    /// of an asymmetric or symmetric-cipher type, created by this TPM, with its sensitive area
    /// loaded. A restricted decryption KEYEDHASH object is a derivation parent instead.
    var isParent: Bool {
        attributes.contains(.restricted) && attributes.contains(.decrypt) && !isPublicOnly && nameAlg != .null
            && !flags.contains(.external) && type != .keyedHash
    }

    /// A derivation parent (Part 1, 27.1): restricted decryption KEYEDHASH.
    var isDerivationParent: Bool {
        attributes.contains(.restricted) && attributes.contains(.decrypt) && !isPublicOnly && nameAlg != .null
            && !flags.contains(.external) && type == .keyedHash
    }

    /// The savedHandle ContextSave reports (Part 2, 14.6): objects with stClear (in them or
    /// an ancestor) are saved as 0x80000002.
    var savedHandle: TPMHandle { flags.contains(.stClear) ? .savedTransientClear : .savedTransient }

    /// Builds a loaded object. `material` must already match the two areas (ObjectLoad's
    /// checks: `TPM.keyMaterial(public:sensitive:)`).
    init(
        publicArea: TPMTPublic, sensitive: TPMTSensitive?, name: TPM2BName, qualifiedName: TPM2BName, hierarchy: TPMHandle,
        flags: Flags, material: KeyMaterial
    ) {
        self.publicArea = publicArea
        self.sensitive = sensitive
        self.name = name
        self.qualifiedName = qualifiedName
        self.hierarchy = hierarchy
        self.flags = flags
        self.material = material
    }
}

/// The key a loaded object's areas describe, ready for use: the private-key operations live in
/// OpenSSL handles that are built once at load rather than at every signature.
enum KeyMaterial: Sendable {
    case rsa(public: RSAPublicKey, private: RSAPrivateKey?)
    /// With a private key, `public` is the point computed from the scalar. nil: a public key
    /// loaded with a NULL nameAlg, whose point the TPM does not check at load (as the
    /// reference) and which is not on the curve; nothing can be done with it.
    case ecc(public: ECCPublicKey?, private: ECCPrivateKey?)
    /// KEYEDHASH and SYMCIPHER: the secret is the sensitive area itself.
    case symmetric

    var rsaPrivate: RSAPrivateKey? {
        if case .rsa(_, let k) = self { return k }
        return nil
    }
    var rsaPublic: RSAPublicKey? {
        if case .rsa(let k, _) = self { return k }
        return nil
    }
    var eccPrivate: ECCPrivateKey? {
        if case .ecc(_, let k) = self { return k }
        return nil
    }
    var eccPublic: ECCPublicKey? {
        if case .ecc(let k?, _) = self { return k }
        return nil
    }
}

extension TPMAlgID {
    /// The TPMCrypto hash behind an implemented TPM hash algorithm.
    var hashAlgorithm: HashAlgorithm? { HashAlgorithm(rawValue: rawValue) }
}

extension TPMECCCurve {
    var curve: ECCCurve? { ECCCurve(rawValue: rawValue) }
}

extension TPM {
    /// The key object at `h`, nil when `h` holds a sequence object or nothing.
    func keyObject(_ h: TPMHandle) -> KeyObject? {
        if case .key(let k)? = transientObject(h) { return k }
        return nil
    }

    /// The Name of a loaded object (Part 1, 16): nil when `h` is not a loaded key object.
    /// Sessions bind cpHash and policies to this value.
    func objectName(_ h: TPMHandle) -> TPM2BName? { keyObject(h)?.name }

    /// Replaces the key object at `h` (a handle known to hold one).
    func storeKeyObject(_ k: KeyObject, at h: TPMHandle) { volatile.objects[h.rawValue] = .key(k) }

    /// The digest of `data` with an implemented hash (a TPMHashFunction for Names).
    static func digest(_ alg: TPMAlgID, _ data: [UInt8]) throws -> [UInt8] {
        guard let h = alg.hashAlgorithm else { throw TPMError(.hash) }
        return h.digest(data)
    }

    /// The Name of a hierarchy, as a parent Name and Qualified Name: its handle (Part 1, 16).
    static func handleName(_ h: TPMHandle) -> TPM2BName {
        var w = TPMWriter(capacity: 4)
        w.u32(h.rawValue)
        return TPM2BName(w.bytes)
    }

    /// The Qualified Name of the object named `name` (with `nameAlg`) whose parent is `parent`:
    /// a hierarchy handle or a loaded object (Part 1, 16).
    func qualifiedName(of name: TPM2BName, nameAlg: TPMAlgID, parent: TPMHandle) throws -> TPM2BName {
        let parentQN: TPM2BName
        if parent.handleType == .permanent {
            parentQN = TPM.handleName(parent)
        } else {
            guard let p = keyObject(parent) else { throw TPMError(.handle) }
            parentQN = p.qualifiedName
        }
        return try TPMWire.qualifiedName(parent: parentQN, name: name, nameAlg: nameAlg, hash: TPM.digest)
    }

    /// Builds the key that the areas describe; the reference's CryptValidateKeys has checked
    /// sizes and bindings before (ObjectValidation.swift), so a failure here is the binding of
    /// an RSA prime to the modulus (TPM_RC_BINDING) or an invalid value (TPM_RC_KEY).
    static func keyMaterial(public p: TPMTPublic, sensitive s: TPMTSensitive?) throws -> KeyMaterial {
        switch p.parameters {
        case .rsa(let parms):
            guard case .rsa(let n) = p.unique else { throw TPMError(.key) }
            let e = parms.exponent == 0 ? RSAPublicKey.defaultExponent : parms.exponent
            let pub: RSAPublicKey
            do { pub = try RSAPublicKey(modulus: n.buffer, exponent: e) } catch { throw TPMError(.key) }
            guard let s else { return .rsa(public: pub, private: nil) }
            guard case .rsa(let prime) = s.sensitive else { throw TPMError(.type) }
            do {
                return .rsa(public: pub, private: try RSAPrivateKey(publicKey: pub, prime: prime.buffer))
            } catch {
                throw TPMError(.binding)
            }
        case .ecc(let parms):
            guard let curve = parms.curveID.curve else { throw TPMError(.curve) }
            guard let s else {
                guard case .ecc(let q) = p.unique else { throw TPMError(.key) }
                let point = try? ECCPublicKey(curve: curve, point: ECCPoint(x: q.x.buffer, y: q.y.buffer))
                if point == nil && p.nameAlg != .null { throw TPMError(.eccPoint) }
                return .ecc(public: point, private: nil)
            }
            guard case .ecc(let d) = s.sensitive else { throw TPMError(.type) }
            let key: ECCPrivateKey
            do { key = try ECCPrivateKey(curve: curve, scalar: d.buffer) } catch { throw TPMError(.keySize) }
            return .ecc(public: key.publicKey, private: key)
        case .keyedHash, .symCipher:
            return .symmetric
        }
    }
}

// MARK: serialization

/// Key objects in the one object encoding (Objects.swift; docs/state-format.md, OBJECT kind 3):
///
///   u32 hierarchy || u8 flags || B publicArea || B sensitiveArea (empty: public only)
///   || B qualifiedName
///
/// The areas are the marshalled TPMT_PUBLIC and TPMT_SENSITIVE. The Name is recomputed from the
/// public area; the Qualified Name is stored (it depends on the parent, which may be gone).
extension KeyObject {
    static let maxEncodedArea = TPMLimits.maxPublicAreaSize + TPMLimits.maxSensitiveAreaSize

    func encodeFields(to w: inout TPMWriter) {
        w.u32(hierarchy.rawValue)
        w.u8(flags.rawValue)
        w.sized(publicArea.wireBytes)
        w.sized(sensitive?.wireBytes ?? [])
        qualifiedName.encode(to: &w)
    }

    /// Strict: anything inconsistent is an error (TPM_RC_INTEGRITY), never a trap.
    init(fieldsFrom r: inout TPMReader) throws {
        let hierarchy = TPMHandle(try r.u32())
        guard [TPMHandle.owner, .endorsement, .platform, .null].contains(hierarchy) else { throw TPMError(.integrity) }
        let flags = Flags(rawValue: try r.u8())
        guard flags.isSubset(of: Flags.all) else { throw TPMError(.integrity) }
        let support = TPM.algorithmSupport
        var pr = TPMReader(try r.sized(max: TPMLimits.maxPublicAreaSize))
        // Only an external public key may have a NULL nameAlg (LoadExternal's +TPMT_PUBLIC).
        let publicArea = try TPMTPublic(from: &pr, allowNull: flags.contains(.external), support: support)
        guard pr.isAtEnd else { throw TPMError(.integrity) }
        let sensitiveBytes = try r.sized(max: TPMLimits.maxSensitiveAreaSize)
        var sensitive: TPMTSensitive?
        if !sensitiveBytes.isEmpty {
            var sr = TPMReader(sensitiveBytes)
            sensitive = try TPMTSensitive(from: &sr, support: support)
            guard sr.isAtEnd, sensitive?.sensitiveType == publicArea.type else { throw TPMError(.integrity) }
        }
        let qualifiedName = try TPM2BName(from: &r)
        let name = try publicArea.name(hash: TPM.digest)
        guard let material = try? TPM.keyMaterial(public: publicArea, sensitive: sensitive) else { throw TPMError(.integrity) }
        self.init(
            publicArea: publicArea, sensitive: sensitive, name: name, qualifiedName: qualifiedName, hierarchy: hierarchy,
            flags: flags, material: material)
    }
}
