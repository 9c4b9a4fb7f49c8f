// The memory baseline of `npm run bench`: a bare Node process that has loaded the libraries
// smartbin-edge uses and put them to work (a database open, a broker connected, the serial binding
// loaded), then idles. Arguments: DB_PATH BROKER_URL.
import Database from "better-sqlite3";
import mqtt from "mqtt";
import { SerialPort } from "serialport";
import { pino } from "pino";
import { z } from "zod";
import YAML from "yaml";
import { Command } from "commander";
import { v7 } from "uuid";

void SerialPort;
void z;
void YAML;
void Command;
void v7;
const [dbPath, url] = process.argv.slice(2);
const log = pino({ level: "warn" });
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
const client = mqtt.connect(url, { protocolVersion: 5 });
client.on("connect", () => log.info("connected"));
process.on("SIGTERM", () => {
  client.end(true);
  db.close();
  process.exit(0);
});
setInterval(() => {}, 1000);
