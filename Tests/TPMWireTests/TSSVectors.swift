// Byte strings produced by tpm2-tss 3.2.1 (libtss2-mu, through tpm2-pytss 1.2.0): the expected
// encodings of the cross-check tests. Regenerate with the script at the end of this file
// (`/usr/bin/python3 gen.py`); the RSA and ECC keys in it are fresh each run, so regenerate all
// vectors together.

enum TSSVectors {
    static let tpm2bPublicEkRsa2048 = """
        013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080
        004300100800000000000100000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        00000000000000000000000000000000000000000000000000000000
        """
    static let tpm2bPublicEkEcc256 = """
        007a0023000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080
        004300100003001000200000000000000000000000000000000000000000000000000000000000000000002000000000
        00000000000000000000000000000000000000000000000000000000
        """
    static let tpm2bPublicEkHighRsa2048 = """
        003a0001000b000300f20020ca3d0a99a2b93906f7a3342414efcfb3a385d44cd1fd459089d19b5071c0b7a000060080
        004300100800000000000000
        """
    static let tpm2bPublicEkHighRsa3072 = """
        004a0001000c000300f20030b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09
        699646150f9fc000f3f80e1200060100004300100c00000000000000
        """
    static let tpm2bPublicEkHighEcc384 = """
        004a0023000c000300f20030b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09
        699646150f9fc000f3f80e1200060100004300100004001000000000
        """
    static let tpm2bPublicEkHighEcc521 = """
        005a0023000d000300f20040b8221ca69e8550a4914de3faa6a18c072cc01208073a928d5d66d59ef79e49a429c41a6b
        269571d57edb25fbdb1838425608b413cd616a5f6db5b6071af99bea00060100004300100005001000000000
        """
    static let tpm2bPublicEkHighRsa4096 = """
        004a0001000c000300f20030b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09
        699646150f9fc000f3f80e1200060100004300101000000000000000
        """
    static let tpmtPublicAkRsa = "0001000b00050072000000100014000b0800000000000000"
    static let tpmtPublicAkEcc = "0023000b00050072000000100018000b0003001000000000"
    static let tpmtPublicSrk = "0001000b00030072000000060080004300100800000000000000"
    static let tpmtPublicEccSrk = "0023000c00030072000000060100004300100004001000000000"
    static let tpmtPublicHmac = "0008000b0004007200000005000d0000"
    static let tpmtPublicAes = "0025000b0002007200000006010000400000"
    static let tpmtPublicRsa3072Oaep = "0001000400020072000000100017000c0c00000000000000"
    static let tpmtPublicRsaKey = """
        0001000b00040040000000100016000b0800000000000100bef5707e8602343a12b429877873280c2be0d8aff582dab2
        394ac38eb57a78b1b5553101b81c4867bec9593329180071162bcacc95fdce85e826d58e9b382727cd17beec764b85bc
        7c5c4df6510a730dab9103df984a2f4a570fe1553fdd6e9fb5fc260d4f8a3d8163cf485e7936a9cac67f19f150c128a8
        7b143b8b8c4f233c06db9593b6d66eac8883de90fe5c2f212c54c0c54a22b6f86ba7bd92d4dd30bd040922b4d90a3c70
        5358a092b869b853bc66846fbae0949a38a2b373809837e016e135ed136625a882e13674ae146346ac75f06449345d33
        1b50a81d8695c2ac5321d22612070e25a9f6038bdd9df61b3a0c390902b3a949d6b8646aa89e5fa7
        """
    static let nameRsaKey = "000bafca3e8924c4902624068dd8388cb0b84e94e066c573b11601a1071306840be0"
    static let tpmtSensitiveRsa = """
        0001000673656372657400000080f5713002df153302230972ba0b18eeb6239f5a31eec5ef230ef7a0c30fa8ed5aeca7
        7bc69bb265ae4cba83449783e45267dc8d37e14caefbab6a427d993a6715183c12f65d66a90cad62a61167dd5a87c9f9
        72d19c023edddb7176e87744a609ef1efcd4a8ccfe4978e4622316467170d8ab0a962b4033c2668ff29da7de8053
        """
    static let tpm2bSensitiveRsa = """
        008e0001000673656372657400000080f5713002df153302230972ba0b18eeb6239f5a31eec5ef230ef7a0c30fa8ed5a
        eca77bc69bb265ae4cba83449783e45267dc8d37e14caefbab6a427d993a6715183c12f65d66a90cad62a61167dd5a87
        c9f972d19c023edddb7176e87744a609ef1efcd4a8ccfe4978e4622316467170d8ab0a962b4033c2668ff29da7de8053
        """
    static let tpmtPublicEccKey = """
        0023000d00020040000000100019000d00050010004165d184bc37c6d9e9103abb14031cde54c14a6657cb10c3a481a4
        5186220851db1ac1d1be57227054e992cceb5ac527468caa2bf31d0368b1a3a98efa6f01af478f0041756d5e933309eb
        c723a7c72683c6c3bd6eaab0443465ed07a0881c6a54399ec73af4a4b0a097febd6761f7e098d5d81588fd757c8f9dd8
        7be6311b71a4bf986fa4
        """
    static let nameEccKey = """
        000dfbd61b0e68f132110ea23b5b065f74a3f4e531e84b531ed8cce855024ccae9338e982af0d0375a5036503925fcd4
        fa16caa03ca9990da877fb332659dc2420f0
        """
    static let tpmtSensitiveEcc = """
        0023000000000041572f003e7234b93fa4b8f79846cf835cff5e1199799e5d5c7b92e6e3452f6daacba8d1ed8706ec64
        a61793cd671ca94be3b30aac26726c3019091de7d4de0b0f52
        """
    static let tpmtSensitiveKeyedhash = """
        000800000020111111111111111111111111111111111111111111111111111111111111111100107365616c65642064
        6174612031323334
        """
    static let tpmtSensitiveSym = """
        002500000020333333333333333333333333333333333333333333333333333333333333333300202222222222222222
        222222222222222222222222222222222222222222222222
        """
    static let tpm2bSensitiveCreateEmpty = "000400000000"
    static let tpm2bSensitiveCreate = "00130008706173737730726400077365616c206d65"
    static let tpmtSignatureRsassa = """
        0014000b0100000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829
        2a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50515253545556575859
        5a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283848586878889
        8a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9
        babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9
        eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
        """
    static let tpmtSignatureRsapss = """
        0016000c0180a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5
        a5a5a5a5a5a5
        """
    static let tpmtSignatureEcdsa = """
        0018000b00200102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2000202122232425262728
        292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40
        """
    static let tpmtSignatureEcschnorr = """
        001c000d0042070707070707070707070707070707070707070707070707070707070707070707070707070707070707
        070707070707070707070707070707070707070707070707004209090909090909090909090909090909090909090909
        0909090909090909090909090909090909090909090909090909090909090909090909090909090909090909
        """
    static let tpmtSignatureHmac = "00050004000102030405060708090a0b0c0d0e0f10111213"
    static let tpmtSignatureNull = "0010"
    static let tpmtSigSchemeEcdaa = "001a000b0005"
    static let tpmtSigSchemeRsapss = "0016000b"
    static let tpmtSigSchemeHmac = "0005000c"
    static let tpmtSigSchemeNull = "0010"
    static let tpmtRsaDecryptOaep = "0017000b"
    static let tpmtRsaDecryptRsaes = "0015"
    static let tpmtRsaDecryptNull = "0010"
    static let tpm2bEccPoint = """
        00440020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f002020212223242526272829
        2a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
        """
    static let tpmtSymDefXor = "000a000b"
    static let tpmtSymDefAes = "000600800043"
    static let tpmtSymDefNull = "0010"
    static let tpmtTkCreation = "8021400000010020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    static let tpmtTkVerified = """
        80224000000b0030000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627
        28292a2b2c2d2e2f
        """
    static let tpmtTkAuth = "80254000000c0014000102030405060708090a0b0c0d0e0f10111213"
    static let tpmtTkAuthNull = "8023400000070000"
    static let tpm2bCreationData = """
        008600000002000b038f00000004030000010020000102030405060708090a0b0c0d0e0f101112131415161718191a1b
        1c1d1e1f09000b0022000b000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0022000b64
        65666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f8081828300076f757473696465
        """
    static let tpm2bCreationDataPrimary = "00170000000000000000100004400000010004400000010000"
    static let tpmsAttestQuote = """
        ff54434780180022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d3132330102030405060708000000030000000901200000000001020300000002000b03ff0000000c030000800020
        000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        """
    static let tpmsAttestCertify = """
        ff54434780170022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d313233010203040506070800000003000000090120000000000102030022000bc8c9cacbcccdcecfd0d1d2d3d4d5
        d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e70032000c0000000000000000000000000000000000000000000000000000
        00000000000000000000000000000000000000000000
        """
    static let tpmsAttestCreation = """
        ff544347801a0022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d313233010203040506070800000003000000090120000000000102030022000bc8c9cacbcccdcecfd0d1d2d3d4d5
        d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e70020000102030405060708090a0b0c0d0e0f101112131415161718191a1b
        1c1d1e1f
        """
    static let tpmsAttestCommandAudit = """
        ff54434780150022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d31323301020304050607080000000300000009012000000000010203000000000000004d000b0020000000000000
        00000000000000000000000000000000000000000000000000000020000102030405060708090a0b0c0d0e0f10111213
        1415161718191a1b1c1d1e1f
        """
    static let tpmsAttestSessionAudit = """
        ff54434780160022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d31323301020304050607080000000300000009012000000000010203010020000102030405060708090a0b0c0d0e
        0f101112131415161718191a1b1c1d1e1f
        """
    static let tpmsAttestTime = """
        ff54434780190022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d3132330102030405060708000000030000000901200000000001020300000000075bcd1501020304050607080000
        000300000009012000000000010203
        """
    static let tpmsAttestNv = """
        ff54434780140022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d313233010203040506070800000003000000090120000000000102030022000b0000000000000000000000000000
        0000000000000000000000000000000000000010000b4e5620636f6e74656e7473
        """
    static let tpmsAttestNvDigest = """
        ff544347801c0022000bc8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e700096e6f6e63
        652d313233010203040506070800000003000000090120000000000102030022000b0000000000000000000000000000
        0000000000000000000000000000000000000020000102030405060708090a0b0c0d0e0f101112131415161718191a1b
        1c1d1e1f
        """
}

/* The generator:

import hashlib
from tpm2_pytss import *
from tpm2_pytss.internal.templates import _ek
from tpm2_pytss._libtpm2_pytss import ffi, lib
from cryptography.hazmat.primitives.asymmetric import rsa, ec
from cryptography.hazmat.primitives import serialization as ser

A, O = TPM2_ALG, TPMA_OBJECT
out = []

def emit(name, obj):
    out.append((name, obj.marshal().hex()))

def mu(fn, obj):
    # libtss2-mu directly, for what tpm2-pytss 1.2 does not wrap.
    buf, off = ffi.new("uint8_t[]", 4096), ffi.new("size_t *")
    assert getattr(lib, fn)(obj, buf, 4096, off) == 0
    return bytes(ffi.buffer(buf, off[0]))

# TCG EK Credential Profile templates (low range: 0x01C00002 RSA 2048, 0x01C0000A ECC P-256;
# high range: 0x01C00012...), as TPM2B_PUBLIC: what `tpm2 createek` sends.
for n in ["EK_RSA2048", "EK_ECC256", "EK_HIGH_RSA2048", "EK_HIGH_RSA3072", "EK_HIGH_ECC384", "EK_HIGH_ECC521"]:
    emit("tpm2b_public_" + n.lower(), getattr(_ek, n).ek_template)
# tpm2-pytss 1.2.0's EK_HIGH_RSA4096 template says keyBits 3072; the profile's H-7 says 4096.
h7 = _ek.EK_HIGH_RSA4096.ek_template
h7.publicArea.parameters.rsaDetail.keyBits = 4096
emit("tpm2b_public_ek_high_rsa4096", h7)

# tpm2_createak's attributes and default schemes; tpm2_createprimary's default SRK.
ak = O.RESTRICTED | O.USERWITHAUTH | O.SIGN_ENCRYPT | O.FIXEDTPM | O.FIXEDPARENT | O.SENSITIVEDATAORIGIN
primary, create = O.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS, O.DEFAULT_TPM2_TOOLS_CREATE_ATTRS
emit("tpmt_public_ak_rsa", TPMT_PUBLIC.parse("rsa2048:rsassa-sha256:null", objectAttributes=ak))
emit("tpmt_public_ak_ecc", TPMT_PUBLIC.parse("ecc256:ecdsa-sha256:null", objectAttributes=ak))
emit("tpmt_public_srk", TPMT_PUBLIC.parse("rsa2048:null:aes128cfb", objectAttributes=primary))
emit("tpmt_public_ecc_srk", TPMT_PUBLIC.parse("ecc384:null:aes256cfb", objectAttributes=primary, nameAlg="sha384"))
emit("tpmt_public_hmac", TPMT_PUBLIC.parse("hmac:sha512", objectAttributes=create & ~O.DECRYPT))
emit("tpmt_public_aes", TPMT_PUBLIC.parse("aes256ctr", objectAttributes=create & ~O.SIGN_ENCRYPT))
emit("tpmt_public_rsa3072_oaep",
     TPMT_PUBLIC.parse("rsa3072:oaep-sha384:null", objectAttributes=create & ~O.SIGN_ENCRYPT, nameAlg="sha1"))

# Public and sensitive areas of real keys, and their Names.
rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = rk.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
pss = TPMT_ASYM_SCHEME(scheme=A.RSAPSS, details=TPMU_ASYM_SCHEME(rsapss=TPMS_SCHEME_HASH(hashAlg=A.SHA256)))
pub = TPMT_PUBLIC.from_pem(pem, nameAlg=A.SHA256, objectAttributes=O.USERWITHAUTH | O.SIGN_ENCRYPT, scheme=pss)
emit("tpmt_public_rsa_key", pub)
out.append(("name_rsa_key", bytes(pub.get_name()).hex()))
assert bytes(pub.get_name()).hex() == "000b" + hashlib.sha256(pub.marshal()).hexdigest()
priv = rk.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
sens = TPMT_SENSITIVE.from_pem(priv)
sens.authValue = b"secret"
emit("tpmt_sensitive_rsa", sens)
emit("tpm2b_sensitive_rsa", TPM2B_SENSITIVE(sensitiveArea=sens))

ek = ec.generate_private_key(ec.SECP521R1())
pem = ek.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
ecdh = TPMT_ASYM_SCHEME(scheme=A.ECDH, details=TPMU_ASYM_SCHEME(ecdh=TPMS_SCHEME_HASH(hashAlg=A.SHA512)))
epub = TPMT_PUBLIC.from_pem(pem, nameAlg=A.SHA512, objectAttributes=O.USERWITHAUTH | O.DECRYPT, scheme=ecdh)
emit("tpmt_public_ecc_key", epub)
out.append(("name_ecc_key", bytes(epub.get_name()).hex()))
priv = ek.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
emit("tpmt_sensitive_ecc", TPMT_SENSITIVE.from_pem(priv))
emit("tpmt_sensitive_keyedhash", TPMT_SENSITIVE.keyedhash_from_secret(b"sealed data 1234", seed=b"\x11" * 32)[0])
emit("tpmt_sensitive_sym", TPMT_SENSITIVE.symcipher_from_secret(b"\x22" * 32, seed=b"\x33" * 32)[0])

emit("tpm2b_sensitive_create_empty", TPM2B_SENSITIVE_CREATE())
emit("tpm2b_sensitive_create",
     TPM2B_SENSITIVE_CREATE(sensitive=TPMS_SENSITIVE_CREATE(userAuth=b"passw0rd", data=b"seal me")))

# Signatures and schemes.
def signature(alg, **kw):
    return TPMT_SIGNATURE(sigAlg=alg, signature=TPMU_SIGNATURE(**kw))
def ecc_sig(h, r, s):
    return TPMS_SIGNATURE_ECC(hash=h, signatureR=r, signatureS=s)
emit("tpmt_signature_rsassa", signature(A.RSASSA, rsassa=TPMS_SIGNATURE_RSA(hash=A.SHA256, sig=bytes(range(256)))))
emit("tpmt_signature_rsapss", signature(A.RSAPSS, rsapss=TPMS_SIGNATURE_RSA(hash=A.SHA384, sig=bytes([0xA5]) * 384)))
emit("tpmt_signature_ecdsa", signature(A.ECDSA, ecdsa=ecc_sig(A.SHA256, bytes(range(1, 33)), bytes(range(33, 65)))))
emit("tpmt_signature_ecschnorr", signature(A.ECSCHNORR, ecschnorr=ecc_sig(A.SHA512, bytes([7]) * 66, bytes([9]) * 66)))
emit("tpmt_signature_hmac", signature(A.HMAC, hmac=TPMT_HA(hashAlg=A.SHA1, digest=TPMU_HA(sha1=bytes(range(20))))))
emit("tpmt_signature_null", TPMT_SIGNATURE(sigAlg=A.NULL))
ecdaa = TPMS_SCHEME_ECDAA(hashAlg=A.SHA256, count=5)
emit("tpmt_sig_scheme_ecdaa", TPMT_SIG_SCHEME(scheme=A.ECDAA, details=TPMU_SIG_SCHEME(ecdaa=ecdaa)))
emit("tpmt_sig_scheme_rsapss",
     TPMT_SIG_SCHEME(scheme=A.RSAPSS, details=TPMU_SIG_SCHEME(rsapss=TPMS_SCHEME_HASH(hashAlg=A.SHA256))))
emit("tpmt_sig_scheme_hmac",
     TPMT_SIG_SCHEME(scheme=A.HMAC, details=TPMU_SIG_SCHEME(hmac=TPMS_SCHEME_HASH(hashAlg=A.SHA384))))
emit("tpmt_sig_scheme_null", TPMT_SIG_SCHEME(scheme=A.NULL))
emit("tpmt_rsa_decrypt_oaep",
     TPMT_RSA_DECRYPT(scheme=A.OAEP, details=TPMU_ASYM_SCHEME(oaep=TPMS_SCHEME_HASH(hashAlg=A.SHA256))))
emit("tpmt_rsa_decrypt_rsaes", TPMT_RSA_DECRYPT(scheme=A.RSAES))
emit("tpmt_rsa_decrypt_null", TPMT_RSA_DECRYPT(scheme=A.NULL))

# ECC point, symmetric definitions.
emit("tpm2b_ecc_point", TPM2B_ECC_POINT(point=TPMS_ECC_POINT(x=bytes(range(32)), y=bytes(range(32, 64)))))
emit("tpmt_sym_def_xor", TPMT_SYM_DEF(algorithm=A.XOR, keyBits=TPMU_SYM_KEY_BITS(exclusiveOr=A.SHA256)))
emit("tpmt_sym_def_aes",
     TPMT_SYM_DEF(algorithm=A.AES, keyBits=TPMU_SYM_KEY_BITS(aes=128), mode=TPMU_SYM_MODE(aes=A.CFB)))
emit("tpmt_sym_def_null", TPMT_SYM_DEF(algorithm=A.NULL))

# Tickets.
emit("tpmt_tk_creation", TPMT_TK_CREATION(tag=TPM2_ST.CREATION, hierarchy=TPM2_RH.OWNER, digest=bytes(range(32))))
emit("tpmt_tk_verified",
     TPMT_TK_VERIFIED(tag=TPM2_ST.VERIFIED, hierarchy=TPM2_RH.ENDORSEMENT, digest=bytes(range(48))))
emit("tpmt_tk_auth", TPMT_TK_AUTH(tag=TPM2_ST.AUTH_SIGNED, hierarchy=TPM2_RH.PLATFORM, digest=bytes(range(20))))
emit("tpmt_tk_auth_null", TPMT_TK_AUTH(tag=TPM2_ST.AUTH_SECRET, hierarchy=TPM2_RH.NULL))

# Creation data: an ordinary object's, and a primary object's (parent is a hierarchy).
sha256 = bytes.fromhex("000b")
cd = TPMS_CREATION_DATA(pcrSelect=TPML_PCR_SELECTION.parse("sha256:0,1,2,3,7+sha1:16"), pcrDigest=bytes(range(32)),
                        locality=TPMA_LOCALITY.ZERO | TPMA_LOCALITY.THREE, parentNameAlg=A.SHA256,
                        parentName=sha256 + bytes(range(32)), parentQualifiedName=sha256 + bytes(range(100, 132)),
                        outsideInfo=b"outside")
emit("tpm2b_creation_data", TPM2B_CREATION_DATA(creationData=cd))
owner = bytes.fromhex("40000001")
emit("tpm2b_creation_data_primary", TPM2B_CREATION_DATA(creationData=TPMS_CREATION_DATA(
    pcrSelect=TPML_PCR_SELECTION(), parentNameAlg=A.NULL, parentName=owner, parentQualifiedName=owner)))

# Attestation structures, one per TPMI_ST_ATTEST.
clock = TPMS_CLOCK_INFO(clock=0x0102030405060708, resetCount=3, restartCount=9, safe=1)
signer = sha256 + bytes(range(200, 232))
firmware = 0x2000000000010203
def attest(t, **kw):
    return TPMS_ATTEST(magic=0xFF544347, type=t, qualifiedSigner=signer, extraData=b"nonce-123",
                       clockInfo=clock, firmwareVersion=firmware, attested=TPMU_ATTEST(**kw))
ST = TPM2_ST
quote = TPMS_QUOTE_INFO(pcrSelect=TPML_PCR_SELECTION.parse("sha256:0,1,2,3,4,5,6,7+sha384:23"), pcrDigest=bytes(range(32)))
emit("tpms_attest_quote", attest(ST.ATTEST_QUOTE, quote=quote))
certify = TPMS_CERTIFY_INFO(name=signer, qualifiedName=bytes.fromhex("000c") + bytes(48))
emit("tpms_attest_certify", attest(ST.ATTEST_CERTIFY, certify=certify))
creation = TPMS_CREATION_INFO(objectName=signer, creationHash=bytes(range(32)))
emit("tpms_attest_creation", attest(ST.ATTEST_CREATION, creation=creation))
audit = TPMS_COMMAND_AUDIT_INFO(auditCounter=77, digestAlg=A.SHA256, auditDigest=bytes(32), commandDigest=bytes(range(32)))
emit("tpms_attest_command_audit", attest(ST.ATTEST_COMMAND_AUDIT, commandAudit=audit))
session = TPMS_SESSION_AUDIT_INFO(exclusiveSession=1, sessionDigest=bytes(range(32)))
emit("tpms_attest_session_audit", attest(ST.ATTEST_SESSION_AUDIT, sessionAudit=session))
time = TPMS_TIME_ATTEST_INFO(time=TPMS_TIME_INFO(time=123456789, clockInfo=clock), firmwareVersion=firmware)
emit("tpms_attest_time", attest(ST.ATTEST_TIME, time=time))
nv = TPMS_NV_CERTIFY_INFO(indexName=sha256 + bytes(32), offset=16, nvContents=b"NV contents")
emit("tpms_attest_nv", attest(ST.ATTEST_NV, nv=nv))
# tpm2-pytss 1.2 lacks TPMS_NV_DIGEST_CERTIFY_INFO in TPMU_ATTEST: libtss2-mu marshals each field.
nd = ffi.new("TPMS_NV_DIGEST_CERTIFY_INFO *")
nd.indexName.size = 34
ffi.memmove(nd.indexName.name, sha256 + bytes(32), 34)
nd.nvDigest.size = 32
ffi.memmove(nd.nvDigest.buffer, bytes(range(32)), 32)
u32, u16, u64 = ffi.new("UINT32 *", 0xFF544347), ffi.new("UINT16 *", 0x801C), ffi.new("UINT64 *", firmware)
def mu_int(fn, p):
    buf, off = ffi.new("uint8_t[]", 8), ffi.new("size_t *")
    assert getattr(lib, fn)(p[0], buf, 8, off) == 0
    return bytes(ffi.buffer(buf, off[0]))
header = (mu_int("Tss2_MU_UINT32_Marshal", u32) + mu_int("Tss2_MU_UINT16_Marshal", u16) + TPM2B_NAME(signer).marshal()
          + TPM2B_DATA(b"nonce-123").marshal() + clock.marshal() + mu_int("Tss2_MU_UINT64_Marshal", u64))
out.append(("tpms_attest_nv_digest", (header + mu("Tss2_MU_TPMS_NV_DIGEST_CERTIFY_INFO_Marshal", nd)).hex()))

for n, h in out:
    print(n, h)
*/
