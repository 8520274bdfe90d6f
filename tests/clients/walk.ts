// A complaint's lifecycle written against the types openapi-typescript generates from openapi/openapi.json
// (imported as ./tousu). tests/clients/test_generated.py compiles it with `tsc --noEmit`: a change of the
// document that breaks an integrator's typed code breaks this file.
import type { components, operations, paths } from "./tousu";

type Schemas = components["schemas"];
type Complaint = Schemas["ComplaintOut"];
type Problem = Schemas["Problem"];
type Json<O> = O extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;

// Every operation has a short camelCase id; the moves are `<move>Complaint`.
type Register = operations["registerComplaint"];
type Investigate = operations["investigateComplaint"];
type StoreFeedback = operations["storeFeedbackComplaint"];
type Propose = operations["proposeComplaint"];
type Approve = operations["approveComplaint"];
type Fulfil = operations["fulfilComplaint"];
type CallAttempt = operations["callAttemptComplaint"];
type Revisit = operations["revisitComplaint"];
type Summary = operations["getSummary"]["responses"][200]["content"]["application/json"];

// approve takes no body at all: its request body is optional, and not "the body or null".
const noBody: Approve["requestBody"] = undefined;

async function send<T>(base: string, key: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const response = await fetch(base + path, {
        method,
        headers: { Authorization: `Bearer ${key}`, "X-Actor": "agent-0042", "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
        const problem = (await response.json()) as Problem;
        // The problem's extension members are typed.
        const moves: string[] | null | undefined = problem.allowed_moves;
        const version: number | null | undefined = problem.current_version;
        throw new Error(`${problem.title}: ${problem.detail} (${moves}, ${version})`);
    }
    return (await response.json()) as T;
}

export async function walk(base: string, key: string): Promise<string> {
    const registration: Json<Register> = {
        complainant: { name: "张三", phone: "138 1234 8000" },
        channel: "phone",
        category: "service_attitude",
        store_id: "SZ-FT-012",
        description: "店员态度恶劣，拒绝为我办理退货。",
    };
    const registered = await send<Register["responses"][201]["content"]["application/json"]>(
        base, key, "POST", "/v1/complaints", registration,
    );
    const at = (move: string) => `/v1/complaints/${registered.id}/${move}`;
    const investigate: Json<Investigate> = { store_id: "SZ-FT-012" };
    await send<Complaint>(base, key, "POST", at("investigate"), investigate);
    const feedback: Json<StoreFeedback> = { cause: "店员未按退货流程操作", responsibility: "staff_fault" };
    await send<Complaint>(base, key, "POST", at("store-feedback"), feedback);
    const proposal: Json<Propose> = {
        remedy: { kind: "refund", amount: "300.00" },
        reply: "非常抱歉，为您全额退款。",
        reply_channel: "sms",
    };
    await send<Complaint>(base, key, "POST", at("propose"), proposal);
    const approved = await send<Complaint>(base, key, "POST", at("approve"), noBody);
    const paid: Json<Fulfil> = { payment_reference: "WX-REFUND-4200001987" };
    await send<Complaint>(base, key, "POST", at("fulfil"), paid);
    const unanswered: Json<CallAttempt> = { outcome: "no_answer" };
    const called = await send<Complaint>(base, key, "POST", at("call-attempt"), unanswered);
    const attempts: number | undefined = called.follow_up_calls?.attempts;
    const revisit: Json<Revisit> = { satisfaction: "satisfied" };
    const closed: Complaint = await send<Complaint>(base, key, "POST", at("revisit"), revisit);
    // Money is a decimal string, times are strings with their offset.
    const amount: string | undefined = approved.remedy?.amount;
    const received: string = closed.received_at;
    const summary = await send<Summary>(base, key, "GET", "/v1/reports/summary?from=2026-10-01&to=2026-10-31");
    const granted: string[] = summary.total.remedies.map((remedy) => remedy.amount);
    const path: keyof paths = "/v1/complaints/{complaint_id}/revisit";
    return [closed.state, amount, received, granted.join(","), path, attempts].join(" ");
}
