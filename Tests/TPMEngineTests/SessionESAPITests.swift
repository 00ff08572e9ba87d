import Crypto
import Foundation
import TPMWire
import XCTest

@testable import TPMEngine

/// The engine driven by an independent client: tpm2-pytss ESAPI (libtss2-esys 3.2), which
/// computes every cpHash, rpHash, command and response HMAC, session key and parameter
/// cipher itself and fails on any response HMAC it cannot verify. The engine runs behind the
/// swtpm TCTI (SessionTestServer.swift).
final class SessionESAPITests: XCTestCase {
    func testESAPIAgreesOnSessionsHMACsCiphersAndPolicies() throws {
        // A missing client is a failure, never a skip (scripts/test installs it).
        guard let probe = runPython("import tpm2_pytss", args: []), probe.status == 0 else {
            return XCTFail("tpm2-pytss is not installed for /usr/bin/python3 (apt-get install python3-tpm2-pytss)")
        }
        let tpm = startedTPM()
        // The owner policy the script satisfies: PolicyCommandCode(HierarchyChangeAuth) then
        // PolicyAuthValue (or PolicyPassword, whose digest is the same), computed here with
        // swift-crypto.
        func h(_ parts: [UInt8]...) -> [UInt8] { Array(SHA256.hash(data: parts.flatMap { $0 })) }
        let policy = h(h([UInt8](repeating: 0, count: 32), [0, 0, 1, 0x6C], [0, 0, 1, 0x29]), [0, 0, 1, 0x6B])
        tpm.persistent.owner.policyAlg = .sha256
        tpm.persistent.owner.policy = policy
        let server = try EngineTestServer(tpm: tpm)
        server.start()
        defer { server.stop() }
        let result = try XCTUnwrap(runPython(Self.script, args: [String(server.port)]))
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("ALL DONE"), result.output)
        server.withTPM { tpm in
            // Everything the script started it also flushed (or a failed use flushed it).
            XCTAssertEqual(tpm.activeSessionCount, 0)
            XCTAssertEqual(tpm.persistent.owner.authValue, Array("owner-3".utf8))
        }
    }

    static let script = #"""
        import sys, hashlib, struct
        from tpm2_pytss import ESAPI, TCTILdr, TSS2_Exception
        from tpm2_pytss.constants import ESYS_TR, TPM2_SE, TPM2_ALG, TPMA_SESSION, TPM2_CC, TPM2_RC
        from tpm2_pytss.types import TPMT_SYM_DEF, TPML_PCR_SELECTION, TPML_DIGEST, TPM2B_DIGEST

        port = int(sys.argv[1])
        ectx = ESAPI(TCTILdr("swtpm", "host=127.0.0.1,port=%d" % port))

        def sym(alg, arg=None):
            s = TPMT_SYM_DEF()
            s.algorithm = alg
            if alg == TPM2_ALG.AES:
                s.keyBits.aes = arg
                s.mode.aes = TPM2_ALG.CFB
            elif alg == TPM2_ALG.XOR:
                s.keyBits.exclusiveOr = arg
            return s

        def ok(name):
            print("PASS " + name, flush=True)

        ATTRS = TPMA_SESSION.CONTINUESESSION

        def session(kind=TPM2_SE.HMAC, bind=ESYS_TR.NONE, s=None, h=TPM2_ALG.SHA256, attrs=ATTRS):
            x = ectx.start_auth_session(ESYS_TR.NONE, bind, kind, s or sym(TPM2_ALG.AES, 128), h)
            ectx.trsess_set_attributes(x, attrs)
            return x

        HASHES = {TPM2_ALG.SHA1: hashlib.sha1, TPM2_ALG.SHA256: hashlib.sha256, TPM2_ALG.SHA384: hashlib.sha384,
                  TPM2_ALG.SHA512: hashlib.sha512}

        # 1. Parameter encryption both ways on TPM2_Hash, every session hash and cipher.
        for h in HASHES:
            for sd in [sym(TPM2_ALG.AES, 128), sym(TPM2_ALG.AES, 192), sym(TPM2_ALG.AES, 256), sym(TPM2_ALG.XOR, h)]:
                s = session(s=sd, h=h, attrs=ATTRS | TPMA_SESSION.DECRYPT | TPMA_SESSION.ENCRYPT)
                data = b"parameter encryption " * 7
                digest, _ = ectx.hash(data, TPM2_ALG.SHA256, ESYS_TR.OWNER, session1=s)
                assert bytes(digest) == hashlib.sha256(data).digest()
                digest, _ = ectx.hash(data[:5], TPM2_ALG.SHA384, ESYS_TR.NULL, session1=s)
                assert bytes(digest) == hashlib.sha384(data[:5]).digest()
                ectx.flush_context(s)
        ok("hash with decrypt+encrypt sessions (4 hashes x AES-128/192/256, XOR)")

        # 2. HMAC authorization of a hierarchy, unbound then bound, with decrypt; the response HMAC
        # after HierarchyChangeAuth uses the new authValue.
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-1")
        ectx.tr_set_auth(ESYS_TR.OWNER, b"owner-1")
        s = session(attrs=ATTRS | TPMA_SESSION.DECRYPT)
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-2", session1=s)
        ectx.tr_set_auth(ESYS_TR.OWNER, b"owner-2")
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3", session1=s)
        ectx.tr_set_auth(ESYS_TR.OWNER, b"owner-3")
        ok("unbound HMAC session authorizes owner, decrypts newAuth")
        b = session(bind=ESYS_TR.OWNER, attrs=ATTRS | TPMA_SESSION.DECRYPT)
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3", session1=b)
        ectx.hierarchy_change_auth(ESYS_TR.ENDORSEMENT, b"", session1=b)
        ok("owner-bound session for owner (bound) and endorsement (not bound)")
        ectx.tr_set_auth(ESYS_TR.OWNER, b"wrong")
        try:
            ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"x", session1=s)
            raise AssertionError("wrong auth accepted")
        except TSS2_Exception as e:
            assert e.rc == 0x9A2, hex(e.rc)
        ectx.tr_set_auth(ESYS_TR.OWNER, b"owner-3")
        ectx.flush_context(s)
        ectx.flush_context(b)
        ok("wrong authValue: TPM_RC_BAD_AUTH + session 1")

        # 3. Three sessions on SequenceComplete: HMAC authorization (with the decrypt and encrypt
        # sessions' nonces in its HMAC), a decrypt session, an encrypt session.
        seq = ectx.hash_sequence_start(b"seq-auth", TPM2_ALG.SHA256)
        ectx.tr_set_auth(seq, b"seq-auth")
        a = session(s=sym(TPM2_ALG.NULL), attrs=ATTRS)
        d = session(s=sym(TPM2_ALG.XOR, TPM2_ALG.SHA256), attrs=ATTRS | TPMA_SESSION.DECRYPT)
        ectx.sequence_update(seq, b"first block ", session1=a, session2=d)
        ectx.trsess_set_attributes(a, ATTRS)
        e = session(h=TPM2_ALG.SHA384, s=sym(TPM2_ALG.AES, 256), attrs=ATTRS | TPMA_SESSION.ENCRYPT)
        digest, _ = ectx.sequence_complete(seq, b"last block", ESYS_TR.NULL, session1=a, session2=d, session3=e)
        assert bytes(digest) == hashlib.sha256(b"first block last block").digest()
        for x in (a, d, e):
            ectx.flush_context(x)
        ok("sequence with authorization, decrypt and encrypt sessions")

        # 4. Audit session: the response HMAC covers auditExclusive as the TPM set it.
        au = session(attrs=ATTRS | TPMA_SESSION.AUDIT)
        for _ in range(3):
            ectx.get_random(16, session1=au)
        ectx.flush_context(au)
        ok("audit session")

        # 5. Session contexts: save, load, use again.
        c = session(attrs=ATTRS | TPMA_SESSION.ENCRYPT)
        ectx.get_random(8, session1=c)
        ctx = ectx.context_save(c)
        c2 = ectx.context_load(ctx)
        r = ectx.get_random(32, session1=c2)
        assert len(bytes(r)) == 32
        ectx.flush_context(c2)
        ok("session context save/load")

        # 6. Policies: a trial session computes the owner policy, a policy session satisfies it.
        def pd(*parts):
            h = hashlib.sha256()
            for p in parts:
                h.update(p)
            return h.digest()
        cc = lambda c: struct.pack(">I", c)
        expected_av = pd(pd(b"\0" * 32, cc(0x16C), cc(0x129)), cc(0x16B))
        t = ectx.start_auth_session(ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.TRIAL, sym(TPM2_ALG.NULL), TPM2_ALG.SHA256)
        ectx.policy_command_code(t, TPM2_CC.HierarchyChangeAuth)
        ectx.policy_auth_value(t)
        assert bytes(ectx.policy_get_digest(t)) == expected_av
        ectx.flush_context(t)
        ok("trial policy digest (PolicyCommandCode, PolicyAuthValue)")
        p = ectx.start_auth_session(ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.POLICY, sym(TPM2_ALG.AES, 128), TPM2_ALG.SHA256)
        ectx.trsess_set_attributes(p, ATTRS | TPMA_SESSION.DECRYPT)
        ectx.policy_command_code(p, TPM2_CC.HierarchyChangeAuth)
        ectx.policy_auth_value(p)
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3", session1=p)
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3")
        ok("policy session with PolicyAuthValue authorizes owner (owner policy set by the test)")
        # the policy was reset by the use: using it again fails
        try:
            ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3", session1=p)
            raise AssertionError("reset policy accepted")
        except TSS2_Exception as e:
            assert e.rc == 0x99D, hex(e.rc)
        ok("a used policy session starts over (TPM_RC_POLICY_FAIL + session 1)")
        ectx.policy_command_code(p, TPM2_CC.HierarchyChangeAuth)
        ectx.policy_password(p)
        # libtss2-esys 3.2 does not encrypt the parameter for a PolicyPassword session with decrypt
        # set (libtpms, like the engine, decrypts with sessionKey || authValue): no decrypt here.
        ectx.trsess_set_attributes(p, ATTRS)
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3", session1=p)
        ectx.hierarchy_change_auth(ESYS_TR.OWNER, b"owner-3")
        ok("policy session with PolicyPassword authorizes owner")
        ectx.flush_context(p)

        # 7. PolicyPCR and PolicyOR in a trial session against an independent computation.
        sel = TPML_PCR_SELECTION.parse("sha256:0,1,7")
        _, _, values = ectx.pcr_read(sel)
        pcr_digest = pd(*[bytes(v) for v in values])
        t = ectx.start_auth_session(ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.TRIAL, sym(TPM2_ALG.NULL), TPM2_ALG.SHA256)
        ectx.policy_pcr(t, b"", sel)
        sel_bytes = struct.pack(">IHB", 1, 0x000B, 3) + bytes([0x83, 0, 0])
        d1 = pd(b"\0" * 32, cc(0x17F), sel_bytes, pcr_digest)
        assert bytes(ectx.policy_get_digest(t)) == d1
        other = b"\x42" * 32
        ectx.policy_or(t, TPML_DIGEST([TPM2B_DIGEST(d1), TPM2B_DIGEST(other)]))
        assert bytes(ectx.policy_get_digest(t)) == pd(b"\0" * 32, cc(0x171), d1, other)
        ectx.flush_context(t)
        ok("PolicyPCR and PolicyOR digests")
        print("ALL DONE", flush=True)
        """#
}
