import TPMCrypto
import TPMWire

// Duplication (Part 3, 13; Part 1, 23.3): TPM2_Duplicate exports a loaded object for a new
// parent, TPM2_Import turns such a blob (or one made outside any TPM) into a private area of a
// parent here, TPM2_Rewrap moves a blob from one parent's outer wrapper to another's. The blob
// format is in DuplicationProtection.swift.

extension TPM {
    /// ObjectIsStorage: a key that can receive (or hold) duplicated objects: an RSA or ECC
    /// restricted decryption key that does not sign. Its public area suffices.
    static func isStorageKey(_ k: KeyObject?) -> Bool {
        guard let k, k.type == .rsa || k.type == .ecc else { return false }
        return k.attributes.has(.restricted) && k.attributes.has(.decrypt) && !k.attributes.has(.sign)
    }

    /// A TPMT_SYM_DEF_OBJECT+ parameter (the inner wrapper's cipher; NULL: none).
    static func symDefObjectParameter(_ r: inout TPMReader) throws -> TPMTSymDefObject {
        try TPMTSymDefObject(from: &r, allowNull: true, support: TPM.algorithmSupport)
    }

    // MARK: TPM2_Duplicate

    /// TPM2_Duplicate (Part 3, 13.1): objectHandle needs the DUP role (a policy session with
    /// PolicyCommandCode(TPM2_Duplicate) or PolicyDuplicationSelect). Checks in the reference's
    /// order: objectHandle not fixedParent (TPM_RC_ATTRIBUTES + H1) and with a nameAlg
    /// (TPM_RC_TYPE + H1); newParentHandle TPM_RH_NULL or a storage key (TPM_RC_TYPE + H2); for
    /// an encryptedDuplication object an inner wrapper (TPM_RC_SYMMETRIC + P2) and a new parent
    /// (TPM_RC_HIERARCHY + H2); encryptionKeyIn empty without an inner wrapper and otherwise
    /// empty or of the cipher's key size (TPM_RC_SIZE + P1). Without encryptionKeyIn the TPM
    /// draws the inner key and returns it as encryptionKeyOut.
    func duplicateCommand(_ c: inout CommandContext) throws {
        let encryptionKeyIn = try c.param(TPM2BData.self)
        let symmetricAlg = try c.param(TPM.symDefObjectParameter)
        try c.finish()
        guard let object = keyObject(c.handles[0]), let sensitive = object.sensitive else { throw TPMError(.type).handle(1) }
        let newParentHandle = c.handles[1]
        if object.attributes.has(.fixedParent) { throw TPMError(.attributes).handle(1) }
        guard let nameAlg = object.nameAlg.hashAlgorithm else { throw TPMError(.type).handle(1) }
        let newParent = newParentHandle == .null ? nil : keyObject(newParentHandle)
        if newParentHandle != .null && !TPM.isStorageKey(newParent) { throw TPMError(.type).handle(2) }
        if object.attributes.has(.encryptedDuplication) {
            if symmetricAlg.algorithm == .null { throw TPMError(.symmetric).parameter(2) }
            if newParentHandle == .null { throw TPMError(.hierarchy).handle(2) }
        }
        let keySize = (Int(symmetricAlg.keyBits) + 7) / 8
        if symmetricAlg.algorithm == .null {
            if encryptionKeyIn.count != 0 { throw TPMError.size.parameter(1) }
        } else if encryptionKeyIn.count != 0 && encryptionKeyIn.count != keySize {
            throw TPMError.size.parameter(1)
        }
        var outer: DuplicationProtection.Outer?
        var outSymSeed = TPM2BEncryptedSecret()
        if let newParent {
            let (seed, secret) = try secretEncrypt(newParent, label: OuterWrap.duplicateLabel)
            let (hash, keyBits) = try OuterWrap.parameters(newParent)
            outer = DuplicationProtection.Outer(hash: hash, keyBits: keyBits, seed: seed)
            outSymSeed = secret
        }
        var inner: DuplicationProtection.Inner?
        var encryptionKeyOut = TPM2BData()
        if symmetricAlg.algorithm != .null {
            var key = encryptionKeyIn.buffer
            if key.isEmpty {
                key = random(keySize)
                encryptionKeyOut = TPM2BData(key)
            }
            inner = DuplicationProtection.Inner(symmetric: symmetricAlg, key: key)
        }
        let duplicate = try DuplicationProtection.wrap(sensitive, nameAlg: nameAlg, name: object.name.buffer, inner: inner, outer: outer)
        encryptionKeyOut.encode(to: &c.response)
        duplicate.encode(to: &c.response)
        outSymSeed.encode(to: &c.response)
    }

    // MARK: TPM2_Import

    /// TPM2_Import (Part 3, 13.3): a duplication blob for parentHandle becomes a private area
    /// wrapped by that parent (load it with TPM2_Load). Checks in the reference's order:
    /// objectPublic neither fixedTPM nor fixedParent (TPM_RC_ATTRIBUTES + P2); a storage parent
    /// (TPM_RC_TYPE + H1); encryptionKey of the inner cipher's key size, or empty without an
    /// inner wrapper (TPM_RC_SIZE + P1), and an encryptedDuplication object needs an inner
    /// wrapper (TPM_RC_ATTRIBUTES + P1); with inSymSeed a parent that can share a seed (not
    /// SYMCIPHER: TPM_RC_TYPE + H1) and the seed recovered under "DUPLICATE" (its codes + P4),
    /// without one no encryptedDuplication (TPM_RC_ATTRIBUTES + P4); the blob opened (codes +
    /// P3); under a fixedTPM parent the object is checked now as TPM2_Load would check it (P2
    /// public, P3 sensitive), since Load trusts such a parent's children.
    func importCommand(_ c: inout CommandContext) throws {
        let encryptionKey = try c.param(TPM2BData.self)
        let objectPublic = try c.param(TPM.publicParameter(allowNull: false))
        let duplicate = try c.param(TPM2BPrivate.self)
        let inSymSeed = try c.param(TPM2BEncryptedSecret.self)
        let symmetricAlg = try c.param(TPM.symDefObjectParameter)
        try c.finish()
        let a = objectPublic.objectAttributes
        if a.has(.fixedTPM) || a.has(.fixedParent) { throw TPMError(.attributes).parameter(2) }
        guard let parent = keyObject(c.handles[0]), parent.isParent else { throw TPMError(.type).handle(1) }
        var inner: DuplicationProtection.Inner?
        if symmetricAlg.algorithm != .null {
            guard encryptionKey.count == (Int(symmetricAlg.keyBits) + 7) / 8 else { throw TPMError.size.parameter(1) }
            inner = DuplicationProtection.Inner(symmetric: symmetricAlg, key: encryptionKey.buffer)
        } else {
            if encryptionKey.count != 0 { throw TPMError.size.parameter(1) }
            if a.has(.encryptedDuplication) { throw TPMError(.attributes).parameter(1) }
        }
        var outer: DuplicationProtection.Outer?
        if inSymSeed.count != 0 {
            if parent.type == .symCipher { throw TPMError(.type).handle(1) }
            let seed: [UInt8]
            do {
                seed = try secretDecrypt(parent, label: OuterWrap.duplicateLabel, secret: inSymSeed.buffer)
            } catch let e as TPMError {
                throw e.parameter(4)
            }
            let (hash, keyBits) = try OuterWrap.parameters(parent)
            outer = DuplicationProtection.Outer(hash: hash, keyBits: keyBits, seed: seed)
        } else if a.has(.encryptedDuplication) {
            throw TPMError(.attributes).parameter(4)
        }
        guard let nameAlg = objectPublic.nameAlg.hashAlgorithm else { throw TPMError(.hash).parameter(2) }
        let name = try objectPublic.name(hash: TPM.digest)
        let sensitive: TPMTSensitive
        do {
            sensitive = try DuplicationProtection.unwrap(
                duplicate, nameAlg: nameAlg, name: name.buffer, inner: inner, outer: outer, support: TPM.algorithmSupport)
        } catch let e as TPMError {
            throw e.parameter(3)
        }
        if parent.attributes.has(.fixedTPM) {
            try ObjectValidation.loadChecks(
                parent: nil, publicArea: objectPublic, sensitive: sensitive, publicParameter: 2, sensitiveParameter: 3)
        }
        let outPrivate = try PrivateProtection.wrap(sensitive, name: name, parent: parent, iv: random(AESCipher.blockSize))
        outPrivate.encode(to: &c.response)
    }

    // MARK: TPM2_Rewrap

    /// TPM2_Rewrap (Part 3, 13.2): replaces the outer wrapper of a duplication blob. Checks in
    /// the reference's order: inSymSeed present exactly when oldParent is not TPM_RH_NULL
    /// (TPM_RC_HANDLE + H1); oldParent a storage key (TPM_RC_TYPE + H1) whose seed decrypts
    /// (any failure TPM_RC_VALUE + P3) and whose wrapper checks (codes + P1); newParent a
    /// storage key (TPM_RC_TYPE + H2); the rewrapped blob fits a TPM2B_PRIVATE (TPM_RC_VALUE +
    /// P1).
    func rewrapCommand(_ c: inout CommandContext) throws {
        let inDuplicate = try c.param(TPM2BPrivate.self)
        let name = try c.param(TPM2BName.self)
        let inSymSeed = try c.param(TPM2BEncryptedSecret.self)
        try c.finish()
        let oldParentHandle = c.handles[0]
        let newParentHandle = c.handles[1]
        if (inSymSeed.count == 0) != (oldParentHandle == .null) { throw TPMError(.handle).handle(1) }
        var blob = inDuplicate.buffer
        if oldParentHandle != .null {
            let oldParent = keyObject(oldParentHandle)
            guard TPM.isStorageKey(oldParent), let oldParent else { throw TPMError(.type).handle(1) }
            var seed: [UInt8]
            do { seed = try secretDecrypt(oldParent, label: OuterWrap.duplicateLabel, secret: inSymSeed.buffer) } catch {
                throw TPMError.value.parameter(3)
            }
            defer { secureWipeArray(&seed) }
            let (hash, keyBits) = try OuterWrap.parameters(oldParent)
            do {
                // The reference decrypts in place and keeps what follows the integrity field.
                blob = try OuterWrap.unwrap(blob, hash: hash, seed: seed, keyBits: keyBits, name: name.buffer)
            } catch let e as TPMError {
                throw e.parameter(1)
            }
        }
        var outSymSeed = TPM2BEncryptedSecret()
        if newParentHandle != .null {
            let newParent = keyObject(newParentHandle)
            guard TPM.isStorageKey(newParent), let newParent else { throw TPMError(.type).handle(2) }
            let (seed, secret) = try secretEncrypt(newParent, label: OuterWrap.duplicateLabel)
            let (hash, keyBits) = try OuterWrap.parameters(newParent)
            guard blob.count + 2 + hash.digestSize <= TPMLimits.maxPrivateSize else { throw TPMError.value.parameter(1) }
            blob = try OuterWrap.wrap(blob, hash: hash, seed: seed, keyBits: keyBits, name: name.buffer)
            outSymSeed = secret
        }
        TPM2BPrivate(blob).encode(to: &c.response)
        outSymSeed.encode(to: &c.response)
    }
}
