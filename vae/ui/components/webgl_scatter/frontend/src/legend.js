// The legend beside the canvas: category swatches or a colour bar.
import { legendEl } from './store.js';
let legendShown = null;
export function drawLegend(args) {
  const sig = JSON.stringify([args.legend, args.colorbar]);
  if (sig === legendShown) return;         // the same legend (a rerun): leave the DOM alone
  legendShown = sig;
  legendEl.innerHTML = '';
  if (args.legend) {
    for (const { name, color } of args.legend) {
      const row = document.createElement('div');
      row.className = 'row';
      row.innerHTML = `<span class="sw" style="background:${color}"></span><span></span>`;
      row.lastChild.textContent = name;
      legendEl.appendChild(row);
    }
  } else if (args.colorbar) {
    const cb = args.colorbar;
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = cb.name;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.background = `linear-gradient(to top, ${cb.colors.join(', ')})`;
    const hi = document.createElement('div');
    hi.textContent = cb.hi;
    const lo = document.createElement('div');
    lo.textContent = cb.lo;
    legendEl.append(title, hi, bar, lo);
  }
}
