import { Widget } from "./app";
import "./styles.css";

export function View(props: Props) {
  return <Panel title={props.title}>{render(Widget)}</Panel>;
}
