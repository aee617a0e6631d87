// A black canvas to draw on in white. When a stroke ends the picture goes to Python as a PNG
// data URL in the state value "png" (null after Clear). The DOM persists between renders, so the
// drawing survives reruns; listeners are re-bound on each call and removed by the cleanup.
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const root = parentElement.querySelector(".dc");
  if (!root) return undefined;
  const canvas = root.querySelector(".dc-canvas");
  const brush = root.querySelector(".dc-brush");
  const ctx = canvas.getContext("2d");
  if (!root.__dcInit) {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    root.__dcInit = true;
    if (data && data.brush) brush.value = String(data.brush);
  }
  const controller = new AbortController();
  const opts = { signal: controller.signal };
  let drawing = false;
  let last = null;

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  const dot = (p) => {
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    ctx.arc(p[0], p[1], Number(brush.value) / 2, 0, 2 * Math.PI);
    ctx.fill();
  };
  const line = (a, b) => {
    ctx.strokeStyle = "#fff";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = Number(brush.value);
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  };
  const send = () => setStateValue("png", canvas.toDataURL("image/png"));

  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    dot(last);
    e.preventDefault();
  }, opts);
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    line(last, p);
    last = p;
  }, opts);
  const end = () => {
    if (!drawing) return;
    drawing = false;
    last = null;
    send();
  };
  canvas.addEventListener("pointerup", end, opts);
  canvas.addEventListener("pointercancel", end, opts);
  root.querySelector(".dc-clear").addEventListener("click", () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    setStateValue("png", null);
  }, opts);
  return () => controller.abort();
}
