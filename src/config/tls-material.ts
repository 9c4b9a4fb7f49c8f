/**
 * What a TLS file named by the config holds (`mqtt.ca_file`, `cert_file`, `key_file`): PEM blocks
 * (RFC 7468: `-----BEGIN LABEL-----` … `-----END LABEL-----`, base64 between), parsed with
 * node:crypto (`X509Certificate` for certificates, `createPrivateKey` for keys), so that a file
 * that Node's TLS would refuse at connect time is refused by `config check` instead (exit 78), and
 * the certificates' expiry dates can be warned about (`config check`) and checked (`doctor`).
 */
import { X509Certificate, createPrivateKey } from "node:crypto";

/** Which key names the file: certificates (ca_file, cert_file) or a private key (key_file). */
export type TlsFileKind = "certificates" | "private_key";

/** The TLS keys of `mqtt`, and what each must hold. */
export const TLS_FILE_KEYS = [
  ["ca_file", "certificates"],
  ["cert_file", "certificates"],
  ["key_file", "private_key"],
] as const satisfies readonly (readonly [string, TlsFileKind])[];

/** One certificate of a file: who it names and until when it is valid. */
export interface CertificateFacts {
  /** The subject's distinguished name, one line (`CN=broker.example.net`). */
  subject: string;
  /** The end of its validity (`notAfter`). */
  validTo: Date;
}

/** What {@link inspectTlsMaterial} found: the certificates (none for a key), or why the file is unusable. */
export type TlsMaterial = { ok: true; certificates: CertificateFacts[] } | { ok: false; problem: string };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;
const KEY_LABELS = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);

/**
 * Checks the bytes of a TLS file. Certificates: at least one `CERTIFICATE` block, each of them
 * parsable. A private key: one `PRIVATE KEY` (PKCS #8), `RSA PRIVATE KEY` or `EC PRIVATE KEY`
 * block that node:crypto parses without a passphrase (the station has none to give:
 * `ENCRYPTED PRIVATE KEY` is refused). `problem` completes "expected …, found …" messages: it
 * says what the file holds instead.
 */
export function inspectTlsMaterial(bytes: Uint8Array, kind: TlsFileKind): TlsMaterial {
  const text = Buffer.from(bytes).toString("latin1");
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] ?? "", pem: m[0] }));
  if (blocks.length === 0) {
    const binary = [...text.slice(0, 64)].some((c) => c.charCodeAt(0) < 9);
    return { ok: false, problem: bytes.length === 0 ? "an empty file" : binary ? "binary data (DER? convert it: openssl x509 -inform der -in FILE -out FILE.pem)" : "no PEM block (-----BEGIN …-----)" };
  }
  if (kind === "private_key") {
    const key = blocks.find((b) => KEY_LABELS.has(b.label) || b.label === "ENCRYPTED PRIVATE KEY");
    if (key === undefined) return { ok: false, problem: `PEM blocks ${labels(blocks)} but no private key` };
    if (key.label === "ENCRYPTED PRIVATE KEY") return { ok: false, problem: "an encrypted private key (the station has no passphrase to give: decrypt it with openssl pkey)" };
    try {
      createPrivateKey(key.pem);
    } catch (err) {
      return { ok: false, problem: `a ${key.label} block that cannot be read (${reason(err)})` };
    }
    return { ok: true, certificates: [] };
  }
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  if (certs.length === 0) return { ok: false, problem: `PEM blocks ${labels(blocks)} but no CERTIFICATE` };
  const certificates: CertificateFacts[] = [];
  for (const [i, block] of certs.entries()) {
    try {
      const x509 = new X509Certificate(block.pem);
      certificates.push({ subject: x509.subject.replace(/\n/g, ", "), validTo: new Date(x509.validTo) });
    } catch (err) {
      return { ok: false, problem: `certificate ${i + 1} of ${certs.length} cannot be read (${reason(err)})` };
    }
  }
  return { ok: true, certificates };
}

function labels(blocks: { label: string }[]): string {
  return [...new Set(blocks.map((b) => b.label))].join(", ");
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message.replace(/^error:[0-9A-F]+:/i, "").trim() : String(err);
}
