import TPMCrypto
import TPMWire

// The commands that take or consume a commit (Commit.swift): TPM2_EC_Ephemeral (Part 3,
// 14.8), TPM2_ZGen_2Phase (14.7) and TPM2_Commit (19.2). TPM2_Sign with the ECDAA scheme
// consumes a TPM2_Commit (SignatureCommands.swift).

extension TPM {
    // MARK: TPM2_EC_Ephemeral

    /// TPM2_EC_Ephemeral (Part 3, 14.8): Q = [r]G for the commit random value r of a new commit,
    /// and the commit's count; TPM2_ZGen_2Phase uses r later as the ephemeral private key. An
    /// unimplemented curve is TPM_RC_CURVE + P1 when it is decoded.
    func ecEphemeralCommand(_ c: inout CommandContext) throws {
        let curve = try c.param { r -> ECCCurve in
            guard let curve = TPMECCCurve(try r.u16()).curve, TPM.algorithmSupport.eccCurves.contains(TPMECCCurve(curve.rawValue))
            else { throw TPMError(.curve) }
            return curve
        }
        try c.finish()
        // r is not bound to a key: no Name.
        guard var r = commitRandom(curve: curve, name: []) else { throw TPMError(.noResult) }
        defer { wipeSecret(&r) }
        let q: ECCPoint
        do { q = try curve.multiplyGenerator(by: r) } catch { throw TPMError(.noResult) }
        let counter = commitCount()
        TPM.pointStructure(q).encode(to: &c.response)
        c.response.u16(counter)
    }

    // MARK: TPM2_ZGen_2Phase

    /// TPM2_ZGen_2Phase (Part 3, 14.7): the two Z values of a two-phase key exchange (SP 800-56A
    /// C(2e, 2s)) with keyA as the static key and the r of an earlier TPM2_EC_Ephemeral (named
    /// by `counter`) as the ephemeral key. Checks, in order: an ECC key (TPM_RC_KEY + H1),
    /// unrestricted with decrypt (TPM_RC_ATTRIBUTES + H1); a key scheme other than NULL must be
    /// inScheme (TPM_RC_SCHEME + P3); both points on the key's curve (TPM_RC_ECC_POINT + P1,
    /// + P2); an outstanding commit (TPM_RC_VALUE + P4). ECDH: Z1 = [dsA]QsB, Z2 = [r]QeB;
    /// ECMQV: Z1 = the MQV point (SP 800-56A, 5.7.2.3; TPMCrypto/ECCMQV.swift), Z2 empty. SM2 is
    /// not in the algorithm table, so it is TPM_RC_SCHEME + P3 when inScheme is decoded. The
    /// commit is used up on success.
    func zGen2PhaseCommand(_ c: inout CommandContext) throws {
        let qsB = try c.param(TPM2BECCPoint.self).point
        let qeB = try c.param(TPM2BECCPoint.self).point
        let inScheme = try c.param { r -> TPMAlgID in
            // TPMI_ECC_KEY_EXCHANGE: the implemented key-exchange schemes, no NULL.
            let alg = TPMAlgID(try r.u16())
            guard alg == .ecdh || alg == .ecmqv, TPM.algorithmSupport.algorithms.contains(alg) else { throw TPMError(.scheme) }
            return alg
        }
        let counter = try c.param { try $0.u16() }
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .ecc, case .ecc(let parms) = k.publicArea.parameters else {
            throw TPMError(.key).handle(1)
        }
        if k.attributes.has(.restricted) || !k.attributes.has(.decrypt) { throw TPMError(.attributes).handle(1) }
        let keyScheme = parms.scheme.details.selector
        if keyScheme != .null, keyScheme != inScheme { throw TPMError(.scheme).parameter(3) }
        guard let curve = parms.curveID.curve else { throw TPMError(.key).handle(1) }
        guard let staticB = try? ECCPublicKey(curve: curve, point: ECCPoint(x: qsB.x.buffer, y: qsB.y.buffer)) else {
            throw TPMError(.eccPoint).parameter(1)
        }
        guard let ephemeralB = try? ECCPublicKey(curve: curve, point: ECCPoint(x: qeB.x.buffer, y: qeB.y.buffer)) else {
            throw TPMError(.eccPoint).parameter(2)
        }
        guard var r = committedRandom(curve: curve, name: [], count: counter) else { throw TPMError.value.parameter(4) }
        defer { wipeSecret(&r) }
        // A key whose private part is not loaded has no static secret to use.
        guard let dsA = k.material.eccPrivate else { throw TPMError(.key).handle(1) }
        let z1: ECCPoint
        var z2 = ECCPoint(x: [], y: [])
        do {
            let deA = try ECCPrivateKey(curve: curve, scalar: r)
            if inScheme == .ecmqv {
                // One value, the MQV point; Z2 stays an empty point.
                z1 = try dsA.mqvPoint(ephemeral: deA, peerStatic: staticB, peerEphemeral: ephemeralB)
            } else {
                z1 = try dsA.sharedPoint(with: staticB)
                z2 = try deA.sharedPoint(with: ephemeralB)
            }
        } catch {
            throw TPMError(.noResult)
        }
        endCommit(counter)
        TPM.pointStructure(z1).encode(to: &c.response)
        TPM.pointStructure(z2).encode(to: &c.response)
    }

    // MARK: TPM2_Commit

    /// TPM2_Commit (Part 3, 19.2; Part 1, annex C): the first phase of an anonymous (ECDAA)
    /// signature. With the commit random value r of a new commit and the key's d: K = [d]P2 and
    /// L = [r]P2 when s2 and y2 give P2 = (H_nameAlg(s2) mod p, y2); E = [r]P1 when P1 is given,
    /// or [r]G when neither is. Checks, in order: an ECC key (TPM_RC_KEY + H1) with an anonymous
    /// scheme (TPM_RC_SCHEME + H1); s2 and y2 both empty or both present (TPM_RC_SIZE + P3);
    /// P2 on the curve (TPM_RC_ECC_POINT + P2); a loaded private part when P2 is used
    /// (TPM_RC_KEY + H1); P1, unless empty, on the curve (TPM_RC_ECC_POINT + P1).
    func commitCommand(_ c: inout CommandContext) throws {
        let p1 = try c.param(TPM2BECCPoint.self).point
        let s2 = try c.param(TPM2BSensitiveData.self)
        let y2 = try c.param(TPM2BECCParameter.self)
        try c.finish()
        guard let k = keyObject(c.handles[0]), k.type == .ecc, case .ecc(let parms) = k.publicArea.parameters else {
            throw TPMError(.key).handle(1)
        }
        // ECDAA is the only anonymous scheme (a sign+decrypt key has the NULL scheme).
        guard case .ecdaa = parms.scheme.details else { throw TPMError(.scheme).handle(1) }
        if (s2.count == 0) != (y2.count == 0) { throw TPMError.size.parameter(3) }
        guard let curve = parms.curveID.curve else { throw TPMError(.key).handle(1) }
        guard var r = commitRandom(curve: curve, name: k.name.buffer) else { throw TPMError(.noResult) }
        defer { wipeSecret(&r) }
        var p2: ECCPoint?
        if s2.count != 0 {
            guard let hash = k.nameAlg.hashAlgorithm else { throw TPMError(.hash).handle(1) }
            guard let x2 = curve.modPrime(hash.digest(s2.buffer)) else { throw TPMError(.noResult) }
            let point = ECCPoint(x: x2, y: y2.buffer)
            guard curve.isValid(point) else { throw TPMError(.eccPoint).parameter(2) }
            p2 = point
        }
        if p2 != nil, k.material.eccPrivate == nil { throw TPMError(.key).handle(1) }
        // An empty point (both coordinates empty) means "no P1".
        let m: ECCPoint? = p1.x.count == 0 && p1.y.count == 0 ? nil : ECCPoint(x: p1.x.buffer, y: p1.y.buffer)
        if let m, !curve.isValid(m) { throw TPMError(.eccPoint).parameter(1) }
        let empty = ECCPoint(x: [], y: [])
        var kPoint = empty
        var lPoint = empty
        var ePoint = empty
        do {
            if let p2, let d = k.material.eccPrivate {
                kPoint = try d.multiply(p2)
                lPoint = try curve.multiply(p2, by: r)
            }
            if m != nil || p2 == nil {
                ePoint = try m.map { try curve.multiply($0, by: r) } ?? curve.multiplyGenerator(by: r)
            }
        } catch {
            throw TPMError(.noResult)
        }
        let counter = commitCount()
        for p in [kPoint, lPoint, ePoint] { TPM.pointStructure(p).encode(to: &c.response) }
        c.response.u16(counter)
    }
}
