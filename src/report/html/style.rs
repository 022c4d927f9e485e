//! The inline stylesheet and the little script of every page (no CDN, no server).

/// CSS shared by all pages; the media query keeps pages readable at phone width, and wide tables
/// scroll horizontally inside `.scroll` instead of widening the page.
pub const CSS: &str = r#"
:root{--fg:#1d232a;--muted:#5b6570;--line:#d8dde3;--bg:#fff;--card:#f7f9fb;--ran:#1f7a3a;--cached:#2458a6;--failed:#b3261e;--skipped:#7a6a12}
*{box-sizing:border-box}
body{margin:0;padding:1.2rem 2rem 3rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main,header,nav{max-width:72rem;margin:0 auto}
h1{font-size:1.6rem;margin:.2rem 0 .4rem;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:0 0 .6rem;overflow-wrap:anywhere}
.sub{color:var(--muted);margin:.2rem 0}
a{color:#1a56b0}
code{font:13px/1.3 ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:break-word}
table.overview td{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%;margin:.4rem 0 .8rem}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid var(--line);padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.ratio{background:#fff7e0;font-weight:600}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:1rem;color:#fff;font-size:.8rem;font-weight:600;vertical-align:middle}
.b-ran{background:var(--ran)}.b-cached{background:var(--cached)}.b-failed{background:var(--failed)}.b-skipped{background:var(--skipped)}
.stage{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--cached);border-radius:6px;padding:1rem 1.2rem;margin:1.2rem 0}
.st-ran{border-left-color:var(--ran)}.st-failed{border-left-color:var(--failed)}.st-skipped{border-left-color:var(--skipped)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0 0 .6rem}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;min-width:0}
dl.facts ul{margin:0;padding-left:1.1rem}
.shared{display:inline-block;white-space:nowrap;background:#efe6ff;color:#4b2a8a;border-radius:1rem;padding:.05rem .55rem;font-size:.8rem;margin-left:.4rem}
.figs{display:flex;flex-wrap:wrap;gap:1rem;margin:.6rem 0}
figure{margin:0;max-width:100%}
figure img{max-width:100%;height:auto;max-height:26rem;border:1px solid var(--line);background:#fff;display:block}
figcaption{font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
pre{background:#fff;border:1px solid var(--line);padding:.6rem;overflow-x:auto;font-size:.8rem;max-height:24rem}
pre.error{border-color:var(--failed);color:var(--failed);white-space:pre-wrap}
details{margin:.4rem 0}
summary{cursor:pointer;color:var(--muted)}
ul.files{columns:2 18rem;margin:.3rem 0;padding-left:1.2rem;font-size:.9rem}
ul.files li{overflow-wrap:anywhere}
.origin-catalogue{color:var(--muted)}
.more{font-size:.85rem;color:var(--muted)}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th::after{content:" \2195";color:#9aa4ae}
table.sortable th[aria-sort=ascending]::after{content:" \25B2";color:var(--fg)}
table.sortable th[aria-sort=descending]::after{content:" \25BC";color:var(--fg)}
@media (max-width:700px){
 body{padding:.6rem .7rem 2rem;font-size:14px}
 h1{font-size:1.25rem}
 .stage{padding:.7rem .7rem;margin:.8rem 0}
 dl.facts{grid-template-columns:1fr}
 dl.facts dt{margin-top:.3rem}
 ul.files{columns:1}
 figure img{max-height:none}
}
"#;

/// Sorts a `table.sortable` by the clicked column (numbers numerically, text naturally; a second
/// click reverses). Plain ES5, no library.
pub const SORT_JS: &str = r#"
document.querySelectorAll('table.sortable').forEach(function(t){
 var hs=t.tHead.rows[0].cells;
 Array.prototype.forEach.call(hs,function(th,i){
  th.tabIndex=0;
  function sort(){
   var asc=th.getAttribute('aria-sort')!=='ascending';
   Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});
   th.setAttribute('aria-sort',asc?'ascending':'descending');
   var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
   rows.sort(function(a,b){
    var x=a.cells[i].textContent.trim(),y=b.cells[i].textContent.trim();
    var nx=Number(x),ny=Number(y),c;
    if(x===''||y===''){c=(x==='')-(y==='');return c;}
    c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y,undefined,{numeric:true});
    return asc?c:-c;
   });
   rows.forEach(function(r){body.appendChild(r);});
  }
  th.addEventListener('click',sort);
  th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});
 });
});
"#;
