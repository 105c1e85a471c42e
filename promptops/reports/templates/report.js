(function(){
var text=document.getElementById('case-filter'),status=document.getElementById('status-filter');
var shown=document.getElementById('shown'),none=document.getElementById('no-match');
var rows=text?Array.prototype.slice.call(document.querySelectorAll('#case-table tbody tr[data-status]')):[];
var haystack=rows.map(function(r){return r.textContent.toLowerCase();});
function apply(){
 if(!text)return;
 var words=text.value.toLowerCase().split(/\s+/).filter(Boolean),want=status.value,count=0;
 rows.forEach(function(row,i){
  var ok=(!want||row.getAttribute('data-status')===want)&&
   words.every(function(w){return haystack[i].indexOf(w)>=0;});
  row.hidden=!ok;if(ok)count++;
 });
 shown.textContent=count.toLocaleString()+' of '+rows.length.toLocaleString()+' shown';
 none.hidden=count>0||rows.length===0;
}
if(text){text.addEventListener('input',apply);status.addEventListener('change',apply);}
Array.prototype.forEach.call(document.querySelectorAll('a[data-filter]'),function(a){
 a.addEventListener('click',function(){if(!status)return;var v=a.getAttribute('data-filter');
  status.value=Array.prototype.some.call(status.options,function(o){return o.value===v;})?v:'';apply();});
});
function fold(open){
 Array.prototype.forEach.call(document.querySelectorAll('details.case'),function(d){d.open=open;});
}
var more=document.getElementById('expand-all'),less=document.getElementById('collapse-all');
if(more)more.addEventListener('click',function(){fold(true);});
if(less)less.addEventListener('click',function(){fold(false);});
window.addEventListener('hashchange',function(){var d=document.getElementById(location.hash.slice(1));
 if(d&&d.tagName==='DETAILS')d.open=true;});
apply();
})();
