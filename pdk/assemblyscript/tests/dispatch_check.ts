// Compile check for the AssemblyScript kit's dispatch helpers: calls each once.
import { fail, inputString, setOutputString } from "../assembly/index";
import {
  commandError, commandOk, jsonField, jsonStr, lastError, parseCommand, parseEvent, publish,
  registerCommand, registerExportBlock, registerSlot, registerTemplateBlock, subscribe,
  unsubscribe,
} from "../assembly/dispatch";

export function initialize(): i32 {
  if (!subscribe("a.*") || !unsubscribe("a.*") || !publish("a.b", "{}") ||
      !registerCommand("c", "C", "{\"type\":\"object\"}") ||
      !registerSlot("s", "e", "S", "{}") || !registerTemplateBlock("b", "B", "<b>{{x}}</b>") ||
      !registerExportBlock("j", "J", "render", true)) {
    return fail(lastError());
  }
  return 0;
}

export function handle_command(): i32 {
  const c = parseCommand(inputString());
  if (c === null) return fail("expected {action, payload}");
  const k = jsonField(c.payload, "k");
  let text: string | null = null;
  if (k !== null) text = jsonStr(k);
  setOutputString(text === null ? commandError("no k") : commandOk(c.payload));
  return 0;
}

export function on_event(): i32 {
  const e = parseEvent(inputString());
  if (e === null) return fail("expected {topic, data}");
  return publish(e.topic, e.data) ? 0 : fail(lastError());
}
