/** The TLS test material of test/fixtures/tls (README there says how it was made). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./build.js";

const DIR = join(ROOT, "test/fixtures/tls");

/** A self-signed PEM certificate, CN=smartbin-test, valid ten years from 2026-12-06. */
export const CERT_PEM = readFileSync(join(DIR, "cert.pem"), "utf8");
/** Its unencrypted PKCS #8 private key (PEM). */
export const KEY_PEM = readFileSync(join(DIR, "key.pem"), "utf8");
/** The certificate's notAfter. */
export const CERT_VALID_TO = new Date("2036-12-03T20:41:12Z");
