import { useEffect, useRef } from "react";
import { levels, subscribeLevels, type Levels } from "../audio/levels";

/** A level bar fed straight from the audio engine (DOM writes, no React re-render per tick). */
export function LevelMeter({ which, label, testId }: { which: keyof Levels; label: string; testId: string }) {
  const bar = useRef<HTMLDivElement>(null);
  const meter = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const paint = () => {
      // Speech RMS sits around 0.02-0.3: a square-root scale makes quiet speech visible.
      const value = Math.min(1, Math.sqrt(levels[which] * 3));
      const percent = Math.round(value * 100);
      if (bar.current) bar.current.style.transform = `scaleX(${value})`;
      if (meter.current && meter.current.getAttribute("aria-valuenow") !== String(percent)) {
        meter.current.setAttribute("aria-valuenow", String(percent));
        meter.current.dataset.level = levels[which].toFixed(4);
      }
    };
    paint();
    return subscribeLevels(paint);
  }, [which]);

  return (
    <div className="meter">
      <span className="meter-label">{label}</span>
      <div
        ref={meter}
        className={`meter-track meter-${which}`}
        role="meter"
        aria-label={`${label} level`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={0}
        data-testid={testId}
        data-level="0"
      >
        <div ref={bar} className="meter-bar" />
      </div>
    </div>
  );
}
