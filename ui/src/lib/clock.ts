import { createSignal } from "solid-js";

const [now, setNow] = createSignal(Date.now());
setInterval(() => setNow(Date.now()), 1000);

/** The time, updated every second, for "time in state" displays. */
export { now };
