/// Implementation limits this TPM exposes (Part 2, Annex A "implementation.h" values we
/// choose; the PC Client profile fixes the PCR ones). One place, read by the codec and by
/// GetCapability, so a limit is never stated twice.
public enum TPMLimits {
    /// Implemented PCRs (PC Client: 24).
    public static let pcrCount = 24
    /// PCR_SELECT_MIN (PC Client: 3 octets) and PCR_SELECT_MAX (ceil(IMPLEMENTATION_PCR/8)).
    public static let pcrSelectMin = 3
    public static let pcrSelectMax = 3
    /// The hash algorithms this TPM implements, in TPM_ALG_ID order.
    public static let hashAlgorithms: [TPMAlgID] = [.sha1, .sha256, .sha384, .sha512]
    /// HASH_COUNT: the bound on TPML_PCR_SELECTION and TPML_DIGEST_VALUES counts.
    public static let hashCount = hashAlgorithms.count
    /// The largest digest (SHA-512).
    public static let maxDigestSize = 64
    /// MAX_DIGEST_BUFFER: TPM2B_MAX_BUFFER, TPM2B_EVENT.
    public static let maxDigestBuffer = 1024
    /// TPM2B_EVENT's bound (Part 2, 10.4.7).
    public static let maxEventSize = 1024
    /// MAX_NV_BUFFER_SIZE.
    public static let maxNVBuffer = 1024
    /// MAX_COMMAND_SIZE and MAX_RESPONSE_SIZE (the same values libtpms uses).
    public static let maxCommandSize = 4096
    public static let maxResponseSize = 4096
    /// MAX_SESSION_NUM: sessions in one command.
    public static let maxSessionNumber = 3
    /// TPML_DIGEST holds at most 8 digests (Part 2, 10.9.2).
    public static let maxDigestListCount = 8
    /// MAX_CAP_BUFFER: the bound on a TPMS_CAPABILITY_DATA in one response.
    public static let maxCapBuffer = 1024
    /// Transient object slots (MAX_LOADED_OBJECTS) and session slots.
    public static let maxLoadedObjects = 3
    public static let maxLoadedSessions = 3
    public static let maxActiveSessions = 64
    /// MAX_CONTEXT_SIZE: the bound on TPM2B_CONTEXT_SENSITIVE; TPM2B_CONTEXT_DATA holds a
    /// TPMS_CONTEXT_DATA (an integrity digest plus that), 2748 octets as in libtpms 0.9.
    public static let maxContextSize = 2680
    public static let maxContextDataSize = 2 + maxDigestSize + 2 + maxContextSize
    /// TPM2B_SENSITIVE_DATA: MAX_SYM_DATA.
    public static let maxSymData = 128
    /// The size of a TPM2B_DATA: sizeof(TPMT_HA).
    public static let maxDataSize = 2 + maxDigestSize

    // Capability lists (Part 2, 10.9 and 10.10). MAX_CAP_DATA is what a TPMU_CAPABILITIES may
    // hold: MAX_CAP_BUFFER less the TPM_CAP and the list count. Each list bound is MAX_CAP_DATA
    // divided by the size of one entry in the reference implementation's memory layout (the
    // Part 2 definition uses sizeof), which is also what libtpms and the TSS compute, so any
    // count we send is one they accept: TPMS_ALG_PROPERTY and TPMS_TAGGED_PCR_SELECT occupy 8
    // octets, TPMS_TAGGED_POLICY 72, TPMS_ACT_DATA 12.
    public static let maxCapData = maxCapBuffer - 4 - 4
    /// MAX_CAP_ALGS.
    public static let maxCapAlgs = maxCapData / 8
    /// MAX_CAP_HANDLES.
    public static let maxCapHandles = maxCapData / 4
    /// MAX_CAP_CC (TPML_CC and TPML_CCA).
    public static let maxCapCC = maxCapData / 4
    /// MAX_TPM_PROPERTIES.
    public static let maxTPMProperties = maxCapData / 8
    /// MAX_PCR_PROPERTIES (a TPMS_TAGGED_PCR_SELECT with PCR_SELECT_MAX = 3 occupies 8 octets).
    public static let maxPCRProperties = maxCapData / 8
    /// MAX_ECC_CURVES.
    public static let maxECCCurves = maxCapData / 2
    /// MAX_TAGGED_POLICIES.
    public static let maxTaggedPolicies = maxCapData / 72
    /// MAX_ACT_DATA.
    public static let maxACTData = maxCapData / 12
    /// MAX_ALG_LIST_SIZE: the bound on TPML_ALG (Part 2, 10.9.3).
    public static let maxAlgListSize = 64

    /// MIN_EVICT_OBJECTS: persistent objects the TPM holds at least (PC Client: 7), reported as
    /// TPM_PT_HR_PERSISTENT_MIN.
    public static let minEvictObjects = 7
    /// MAX_NV_INDEX_SIZE: the largest NV Index data area (PC Client asks for at least 2048, room
    /// for an EK certificate), TPM_PT_NV_INDEX_MAX.
    public static let maxNVIndexSize = 2048
    /// The NV memory an instance has for NV Indices and persistent objects together (TPMA_MEMORY
    /// sharedNV): 64 KiB, about a third of libtpms's NV_MEMORY_SIZE, enough for an EK
    /// certificate chain, counters and a few persistent keys, and small enough that the
    /// exported state of thousands of instances stays cheap. docs/nv.md explains the costs.
    public static let nvMemorySize = 65_536
    /// What one NV Index costs besides its data: room for its TPMS_NV_PUBLIC and authValue.
    public static let nvIndexEntrySize = 160
    /// What one persistent object costs: more than the encoding of the largest object (RSA
    /// 4096 with its prime, names and policy).
    public static let nvEvictObjectSize = 2_048
    /// RAM_INDEX_SPACE: the RAM an orderly Index's data is cached in (libtpms: 512 octets),
    /// each Index taking its data plus a 12-octet header. vtpm writes orderly Indices through
    /// to NV but keeps this limit, so the same Indices can be defined as on libtpms.
    public static let orderlyIndexRAMSpace = 512
    public static let orderlyIndexRAMHeader = 12
    /// MIN_COUNTER_INDICES: NV space is kept for this many counter Indices (libtpms: 8).
    public static let minCounterIndices = 8
    /// Bounds the state decoder uses: no budget can hold more Indices or objects than these.
    public static var maxNVIndices: Int { nvMemorySize / nvIndexEntrySize }
    public static var maxPersistentObjects: Int { nvMemorySize / nvEvictObjectSize }
    /// MAX_ORDERLY_COUNT: how far an orderly NV counter's RAM copy may run ahead of NV.
    public static let maxOrderlyCount = 255
    /// The largest difference between the context IDs of two saved sessions (16-bit context
    /// slots), TPM_PT_CONTEXT_GAP_MAX.
    public static let contextGapMax = 0xFFFF
    /// Octets of the commit array (Part 1, annex C, TPM2_Commit): one bit per outstanding
    /// commit count, so TPM_PT_SPLIT_MAX = 8 * this (128, as libtpms).
    public static let commitArraySize = 16
    /// The commit nonce behind every commit random value: a digest of the context integrity
    /// hash (SHA-256).
    public static let commitNonceSize = 32

    /// Digest size of an implemented hash algorithm, nil for any other value.
    public static func digestSize(_ alg: TPMAlgID) -> Int? {
        switch alg {
        case .sha1: return 20
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        default: return nil
        }
    }

    // Object, key and attestation structures (Part 2, 10-12 and 15), sized for the algorithm
    // profile: RSA up to 4096 bits, ECC up to P-521, AES up to 256 bits. Where Part 2 bounds a
    // TPM2B by sizeof() of a C structure, the bound here is the largest marshalled form of that
    // structure on this TPM: no valid content is longer, and the value does not depend on any
    // compiler's memory layout.

    /// MAX_RSA_KEY_BYTES: TPM2B_PUBLIC_KEY_RSA (RSA 4096).
    public static let maxRSAKeyBytes = 512
    /// RSA_PRIVATE_SIZE: TPM2B_PRIVATE_KEY_RSA holds one prime. Part 2 (11.2.4.7) lets a vendor
    /// choose MAX_RSA_KEY_BYTES / 2 or five times that (all CRT values); one prime is the
    /// form every object's sensitive area carries and what the TSSes size the buffer for.
    public static let rsaPrivateSize = maxRSAKeyBytes / 2
    /// MAX_ECC_KEY_BYTES: TPM2B_ECC_PARAMETER (P-521: 66 octets).
    public static let maxECCKeyBytes = 66
    /// MAX_SYM_KEY_BYTES (AES-256): TPM2B_SYM_KEY.
    public static let maxSymKeyBytes = 32
    /// MAX_SYM_BLOCK_SIZE (AES): TPM2B_IV.
    public static let maxSymBlockSize = 16
    /// LABEL_MAX_BUFFER: TPM2B_LABEL, MIN(32, MAX(MAX_ECC_KEY_BYTES, MAX_DIGEST_SIZE)).
    public static let labelMaxBuffer = min(32, max(maxECCKeyBytes, maxDigestSize))
    /// sizeof(TPMS_DERIVE): TPM2B_DERIVE (two TPM2B_LABELs).
    public static let maxDeriveSize = 2 * (2 + labelMaxBuffer)
    /// sizeof(TPMU_NAME): TPM2B_NAME holds a TPMT_HA (or a handle, which is shorter).
    public static let maxNameSize = 2 + maxDigestSize
    /// The largest TPMU_PUBLIC_PARMS: ECC with a symmetric definition (6), an ECDAA scheme (6),
    /// a curve (2) and a KDF scheme (4).
    public static let maxPublicParmsSize = 6 + 6 + 2 + 4
    /// The largest TPMU_PUBLIC_ID: an RSA modulus, an ECC point, a digest or a TPMS_DERIVE.
    public static let maxPublicIDSize = max(2 + maxRSAKeyBytes, 2 * (2 + maxECCKeyBytes), 2 + maxDigestSize, maxDeriveSize)
    /// sizeof(TPMT_PUBLIC): TPM2B_TEMPLATE. type, nameAlg, objectAttributes, authPolicy,
    /// parameters, unique.
    public static let maxPublicAreaSize = 2 + 2 + 4 + (2 + maxDigestSize) + maxPublicParmsSize + maxPublicIDSize
    /// The largest TPMT_SENSITIVE: type, authValue, seedValue and the largest private value.
    public static let maxSensitiveAreaSize =
        2 + 2 * (2 + maxDigestSize) + 2 + max(rsaPrivateSize, maxECCKeyBytes, maxSymData, maxSymKeyBytes)
    /// sizeof(_PRIVATE): TPM2B_PRIVATE (two integrity digests and a TPM2B_SENSITIVE).
    public static let maxPrivateSize = 2 * (2 + maxDigestSize) + 2 + maxSensitiveAreaSize
    /// sizeof(TPMS_ID_OBJECT): TPM2B_ID_OBJECT (an HMAC and an encrypted TPM2B_DIGEST).
    public static let maxIDObjectSize = 2 * (2 + maxDigestSize)
    /// sizeof(TPMU_ENCRYPTED_SECRET): TPM2B_ENCRYPTED_SECRET (an ECC point, an RSA-encrypted
    /// seed, or a TPM2B_DIGEST).
    public static let maxEncryptedSecretSize = max(2 * (2 + maxECCKeyBytes), maxRSAKeyBytes, 2 + maxDigestSize)
    /// sizeof(TPMS_ATTEST): TPM2B_ATTEST. The header (magic, type, qualifiedSigner, extraData,
    /// clockInfo, firmwareVersion) and the largest TPMU_ATTEST member, TPMS_NV_CERTIFY_INFO.
    public static let maxAttestSize =
        4 + 2 + (2 + maxNameSize) + (2 + maxDataSize) + 17 + 8 + (2 + maxNameSize) + 2 + (2 + maxNVBuffer)
}
