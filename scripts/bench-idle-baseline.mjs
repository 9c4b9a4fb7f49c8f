// The idle-CPU baseline of `npm run bench`: a bare Node process that reads the same serial stream
// through serialport (one indicator frame every 50 ms) and holds an MQTT connection, doing nothing
// else. Arguments: PORT_PATH BROKER_URL.
import mqtt from "mqtt";
import { SerialPort } from "serialport";

const [path, url] = process.argv.slice(2);
let bytes = 0;
const port = new SerialPort({ path, baudRate: 9600 });
port.on("data", (chunk) => {
  bytes += chunk.length;
});
port.on("error", () => undefined);
const client = mqtt.connect(url, { protocolVersion: 5 });
process.on("SIGTERM", () => {
  client.end(true);
  port.close(() => process.exit(bytes > 0 ? 0 : 3));
});
