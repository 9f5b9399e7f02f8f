// Every built-in backend, registered once. Devices are leaves: the registry never imports them eagerly.
import { registerBackend } from "./loss_backend.ts";

registerBackend("cpu", async () => (await import("./cpu.ts")).cpuBackend);

export { backendNames, BackendUnavailableError, getBackend, registerBackend, type LossBackend } from "./loss_backend.ts";
